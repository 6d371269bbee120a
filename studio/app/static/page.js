// The article component's script (gr.HTML js_on_load): every card button sends one `act` event
// whose `action` is {act, block, ...form fields}, parsed on the server by
// studio.app.card_actions.parse_action; a card's own image goes up with `upload` first.
const send = (btn, extra) => {
  const blk = btn.closest('[data-block]');
  const form = btn.closest('[data-form]');
  const data = {act: btn.dataset.act, block: blk ? blk.dataset.block : null, ...extra};
  if (btn.dataset.version) data.version = Number(btn.dataset.version);
  if (btn.dataset.offset) data.offset = Number(btn.dataset.offset);
  if (form) form.querySelectorAll('[name]').forEach(f => { data[f.name] = f.value; });
  if (blk && data.act !== 'open_editor') blk.classList.add('is-busy');
  trigger('act', {action: data});
};
element.addEventListener('click', (e) => {
  const btn = e.target.closest('[data-act]');
  if (!btn || !element.contains(btn)) return;
  const act = btn.dataset.act;
  if (act === 'toggle') {
    const scope = btn.closest('[data-block]');
    const target = scope && scope.querySelector(btn.dataset.target);
    if (target) { target.classList.toggle('open'); const f = target.querySelector('textarea,input'); if (f) f.focus(); }
    return;
  }
  if (act === 'lightbox') {
    const box = element.querySelector('.lightbox');
    box.querySelector('img').src = btn.src; box.querySelector('img').alt = btn.alt; box.hidden = false;
    return;
  }
  e.preventDefault();
  if (act === 'continue') { const go = document.querySelector('#continue-btn'); if (go) go.click(); return; }
  send(btn);
});
element.addEventListener('click', (e) => {
  if (e.target.closest('.lightbox')) e.target.closest('.lightbox').hidden = true;
});
element.addEventListener('change', async (e) => {
  const input = e.target.closest('input[data-upload]');
  if (!input || !input.files || !input.files.length) return;
  const blk = input.closest('[data-block]');
  blk.classList.add('is-busy');
  const file = input.files[0];
  const {path} = await upload(file);
  trigger('act', {action: {act: 'upload', block: blk.dataset.block, path: path, name: file.name}});
});
element.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    const form = e.target.closest('[data-form]');
    const primary = form && form.querySelector('button[data-act]:not([data-act=toggle])');
    if (primary) { e.preventDefault(); send(primary); }
  }
});
const tick = () => {
  element.querySelectorAll('[data-since]').forEach(el => {
    const since = Number(el.dataset.since);
    const out = el.querySelector('.elapsed');
    if (since && out) out.textContent = Math.max(0, Math.round(Date.now() / 1000 - since)) + ' s';
  });
};
setInterval(tick, 500);
if (!window.__studioKeys) {
  window.__studioKeys = true;
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && e.target.closest('#brief')) {
      e.preventDefault();
      const write = document.querySelector('#write');
      if (write) write.click();
    }
  });
}
const syncUrl = () => {
  const v = props.value;
  if (!v || !v.project) return;
  const want = '?project=' + v.project + (v.article ? '&article=' + v.article : '');
  if (window.location.search !== want) history.replaceState(null, '', window.location.pathname + want);
};
watch('value', () => { syncUrl(); tick(); });
syncUrl();
// Typing in place: the editor bundle (web/, built by setup.sh, served by the app at
// value.editor) defines the <studio-text> elements of the template; their autosaves come back
// here as the article's `save_text` event. Without the bundle the Markdown box stays.
const startEditor = () => {
  const url = props.value && props.value.editor;
  if (!url) return;
  if (!window.__studioEditorLoad) window.__studioEditorLoad = import(url);
  window.__studioEditorLoad
    .then(() => window.studioEditor.start({save: (data) => trigger('save_text', {action: data})}))
    .catch((err) => {
      document.documentElement.dataset.studioEditor = 'failed'; // page.css shows the Markdown and a note
      console.error('the text editor did not load', err);
    });
};
watch('value', () => {
  startEditor();
  const answer = props.value && props.value.saved; // the answer to one autosave (ui.on_save)
  if (answer && window.studioEditor) window.studioEditor.answer(answer);
});
startEditor();
