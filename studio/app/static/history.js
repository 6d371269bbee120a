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
  });
}
