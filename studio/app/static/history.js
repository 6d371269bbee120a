// The article's history keys (appended to page.js, same js_on_load scope): Ctrl/Cmd+Z undoes the
// newest change to the article, Shift+Ctrl/Cmd+Z (or Ctrl+Y) redoes it, through the same `act`
// event as the Undo / Redo buttons (studio.app.card_actions.Undo / Redo). Inside a text field or
// a rich-text editor (contenteditable, ProseMirror) the editor's own undo applies instead.
const inEditor = (el) => !!(el && el.closest && el.closest(
  'input, textarea, select, [contenteditable=""], [contenteditable="true"], .ProseMirror, .cm-editor'));
const historyKey = (e) => {
  if (!(e.ctrlKey || e.metaKey) || e.altKey) return null;
  const key = e.key.toLowerCase();
  if (key === 'z') return e.shiftKey ? 'redo' : 'undo';
  if (key === 'y' && e.ctrlKey && !e.shiftKey) return 'redo';
  return null;
};
// The outcome is shown next to the block the step changed, which may be far from where the
// writer is: once the page answers, that block is scrolled into view.
const showHistoryOutcome = () => {
  const started = Date.now();
  // by node and text: the component may patch a notice in place rather than replace it
  const before = new Map([...element.querySelectorAll('.notice')].map(n => [n, n.textContent]));
  const poll = () => {
    const fresh = [...element.querySelectorAll('.notice')].find(
      n => before.get(n) !== n.textContent && /^(Undone|Redone): /.test(n.textContent.trim()));
    const section = fresh && fresh.closest('section[data-block]');
    if (section) { section.scrollIntoView({block: 'nearest'}); return; }
    if (!fresh && Date.now() - started < 15000) setTimeout(poll, 100);
  };
  setTimeout(poll, 50);
};
element.addEventListener('click', (e) => {
  if (e.target.closest('.history-bar [data-act]')) showHistoryOutcome();
});
if (!window.__studioHistoryKeys) {
  window.__studioHistoryKeys = true;
  document.addEventListener('keydown', (e) => {
    const act = historyKey(e);
    if (!act || e.defaultPrevented || inEditor(e.target) || inEditor(document.activeElement)) return;
    const btn = document.querySelector(`#article .history-bar [data-act=${act}]`);
    if (!btn) return;  // no finished article open (or it is being written)
    e.preventDefault();
    if (btn.disabled) return;
    btn.disabled = true;  // one step per key press until the page answers
    trigger('act', {action: {act: act, block: null}});
    showHistoryOutcome();
  });
}
