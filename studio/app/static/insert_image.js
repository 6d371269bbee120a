// Images anywhere (studio.app.inserting): drop or paste an image file, or an image URL, between
// any two blocks or paragraphs. A file goes up with Gradio's upload() first; then one
// `insert_image` act names the place: {block, paragraph?} = after that block (after its
// paragraph N: the server splits the text block there), or block 'start' = above the first.
(() => {
  const BODY = 'p,h1,h2,h3,h4,h5,h6,ul,ol,pre,blockquote,table,hr';
  const TOOLS = '[data-form],.actions,.notice,.rewrite-diff,.busy,.history';
  const editable = () => !!element.querySelector('.studio-article [data-act]');  // tools exist only when editable
  const sections = () => [...element.querySelectorAll('section[data-block]')];
  // a text block's paragraphs as shown: top-level body elements, not the card tools
  const bodyOf = (blk) => !blk.classList.contains('blk-text') ? [] :
    [...blk.querySelectorAll(BODY)].filter(el => !el.parentElement.closest(BODY) && !el.closest(TOOLS));
  const before = (blk) => {
    const all = sections(), i = all.indexOf(blk);
    return i > 0 ? {block: all[i - 1].dataset.block, mark: all[i - 1], where: 'after'}
      : {block: 'start', mark: blk, where: 'before'};
  };
  const gapAfter = (blk, tops, n) =>  // after paragraph n (1-based) of blk; the last one: after the block
    ({block: blk.dataset.block, paragraph: n < tops.length ? n : null, mark: tops[n - 1] || blk, where: 'after'});
  // the gap nearest a point: above or below the paragraph (or card) under it
  const gapAt = (target, y) => {
    const blk = target && target.closest && target.closest('section[data-block]');
    if (!blk || !element.contains(blk)) return null;
    const tops = bodyOf(blk);
    if (tops.length) {
      const el = tops.find(t => t.getBoundingClientRect().bottom >= y) || tops[tops.length - 1];
      const r = el.getBoundingClientRect();
      const k = tops.indexOf(el) + (y < r.top + r.height / 2 ? 0 : 1);
      return k === 0 ? before(blk) : gapAfter(blk, tops, k);
    }
    const r = blk.getBoundingClientRect();
    return y < r.top + r.height / 2 ? before(blk) : {block: blk.dataset.block, mark: blk, where: 'after'};
  };
  // the gap after the paragraph (or card) that holds `node`: where a paste goes
  const gapOf = (node) => {
    const el = node && (node.nodeType === 1 ? node : node.parentElement);
    const blk = el && el.closest('section[data-block]');
    if (!blk || !element.contains(blk)) return null;
    const tops = bodyOf(blk);
    const i = tops.findIndex(t => t.contains(el));
    return i >= 0 ? gapAfter(blk, tops, i + 1) : {block: blk.dataset.block, mark: blk, where: 'after'};
  };
  // in the in-place editor the DOM caret often sits on the editor's root (node + child offset), not
  // in a paragraph: ask the editor which top-level node holds its selection instead
  const editorGap = (node) => {
    const el = node && (node.nodeType === 1 ? node : node.parentElement);
    const blk = el && el.closest('.ProseMirror') && el.closest('section[data-block]');
    const api = window.studioEditor;
    const view = blk && api && typeof api.view === 'function' ? api.view(blk.dataset.block) : null;
    if (!view) return null;
    const tops = bodyOf(blk);
    return tops.length ? gapAfter(blk, tops, Math.min(view.state.selection.$from.index(0) + 1, tops.length)) : null;
  };
  let marked = null;
  const unmark = () => { if (marked) marked.classList.remove('drop-after', 'drop-before'); marked = null; };
  const mark = (gap) => { unmark(); if (gap) { marked = gap.mark; marked.classList.add('drop-' + gap.where); } };
  const imageFile = (list) => [...(list || [])].find(f => f.type && f.type.startsWith('image/'));
  const URL_RE = /^https?:\/\/\S+$/i;
  const send = async (gap, file, url) => {
    const blk = element.querySelector(`section[data-block="${gap.block}"]`);
    if (blk) blk.classList.add('is-busy');
    // the in-place editor's unsaved text first (window.studioEditor, where the page has it): the
    // server splits a block by its stored text; a failed save says why on its own indicator
    const editor = window.studioEditor;
    if (editor && typeof editor.flush === 'function') await editor.flush().catch(() => {});
    const action = {act: 'insert_image', block: gap.block};
    if (gap.paragraph) action.paragraph = gap.paragraph;
    if (file) {
      const {path} = await upload(file);
      action.path = path;
      action.name = file.name || 'pasted image';
    } else action.url = url;
    trigger('act', {action});
  };
  let clicked = null;  // the paragraph or card last clicked: a paste goes after it
  element.addEventListener('click', (e) => {
    if (!e.target.closest('[data-act],input,textarea,button')) clicked = e.target;
  });
  element.addEventListener('dragover', (e) => {
    const types = [...(e.dataTransfer ? e.dataTransfer.types : [])];
    if (!editable() || !(types.includes('Files') || types.includes('text/uri-list'))) return;
    const gap = gapAt(e.target, e.clientY);
    if (!gap) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    mark(gap);
  });
  element.addEventListener('dragleave', (e) => { if (!element.contains(e.relatedTarget)) unmark(); });
  element.addEventListener('drop', (e) => {
    unmark();
    const dt = e.dataTransfer;
    if (!editable() || !dt) return;
    const gap = gapAt(e.target, e.clientY);
    const file = imageFile(dt.files);
    const url = (dt.getData('text/uri-list') || dt.getData('text/plain') || '').split('\n')[0].trim();
    if (!gap || !(file || URL_RE.test(url))) return;
    e.preventDefault();
    send(gap, file, file ? '' : url);
  });
  element.addEventListener('change', (e) => {  // the insert form's "Choose a picture"
    const input = e.target.closest('input[data-insert-image]');
    if (!input || !input.files || !input.files.length) return;
    const blk = input.closest('section[data-block]');
    send({block: blk.dataset.block}, input.files[0], '');
  });
  if (window.__studioPaste) return;  // one document listener per page
  window.__studioPaste = true;
  document.addEventListener('paste', (e) => {
    const dt = e.clipboardData;
    if (!dt || !editable()) return;
    const target = e.target.nodeType === 1 ? e.target : e.target.parentElement;
    const field = target && target.closest('input,textarea,[contenteditable=""],[contenteditable="true"]');
    if (field && !element.contains(field)) return;  // the brief box and other fields keep their paste
    const file = imageFile(dt.files);
    const text = (dt.getData('text/plain') || '').trim();
    if (!file && (field || e.defaultPrevented || !URL_RE.test(text))) return;  // text pastes into a field as text
    const sel = document.getSelection();  // the caret's paragraph first, then the field's block, then the last click
    const caret = sel && sel.anchorNode && element.contains(sel.anchorNode) ? sel.anchorNode : null;
    const gap = editorGap(field) || editorGap(caret) || gapOf(caret || field || clicked);
    if (!gap) return;
    e.preventDefault();
    send(gap, file, file ? '' : text);
  });
})();
