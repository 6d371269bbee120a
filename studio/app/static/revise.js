// The revise panel's diff (gr.HTML js_on_load, studio/app/ui_revise.py): a changed block's
// "Take this" button ticks or unticks its box in "Blocks to accept" (#revise-pick), which
// "Accept selected" sends; the box list stays the one source of the choice.
element.addEventListener('click', (e) => {
  const btn = e.target.closest('[data-pick]');
  if (!btn || !element.contains(btn)) return;
  e.preventDefault();
  const id = btn.dataset.pick + ':';
  const label = [...document.querySelectorAll('#revise-pick label')].find(l => l.textContent.trim().startsWith(id));
  if (!label) return;
  label.click();
  const box = label.querySelector('input');
  const taken = box ? box.checked : !btn.classList.contains('taken');
  btn.classList.toggle('taken', taken);
  btn.setAttribute('aria-pressed', String(taken));
  btn.textContent = taken ? 'Taken ✓' : 'Take this';
});
