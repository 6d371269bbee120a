"""The page's static parts: the article template, its script and the CSS (strings, no logic).

The article component's value is ``studio.app.ui_page.page(view)``; ``TEMPLATE`` joins it.
``SCRIPT`` runs once per page (gr.HTML ``js_on_load``): card buttons send one ``act`` event
with ``{act, block, ...form fields}``; a card's own image goes up with ``upload`` first;
lightbox, elapsed-time ticks, Ctrl/Cmd+Enter to write and the page URL
(``?project=ID&article=N``) are handled here too.
"""

from __future__ import annotations

TEMPLATE = """\
${value && value.blocks ? `<div class="studio-head">${value.head}</div>\
<article class="studio-article">${value.blocks.map(b => `<section class="blk blk-${b.kind}" \
data-block="${b.id}">${b.body.join('')}${b.tail ? `<p class="streaming">${b.tail}</p>` : ''}${b.tools}</section>`)\
.join('')}</article>\
<div class="lightbox" hidden><img alt=""></div>` : ''}"""

SCRIPT = r"""
const send = (btn, extra) => {
  const blk = btn.closest('[data-block]');
  const form = btn.closest('[data-form]');
  const data = {act: btn.dataset.act, block: blk ? blk.dataset.block : null, ...extra};
  if (btn.dataset.version) data.version = Number(btn.dataset.version);
  if (btn.dataset.offset) data.offset = Number(btn.dataset.offset);
  if (form) form.querySelectorAll('[name]').forEach(f => { data[f.name] = f.value; });
  if (blk && !['edit_call'].includes(data.act)) blk.classList.add('is-busy');
  trigger('act', data);
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
  trigger('act', {act: 'upload', block: blk.dataset.block, path: path, name: file.name});
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
"""

CSS = """
#studio-title h1 { margin: 0; font-size: 1.6rem; }
#studio-title p { margin: 0.2rem 0 0.4rem; color: var(--body-text-color-subdued); }
.chips { display: flex; flex-wrap: wrap; gap: 0.4rem; margin: 0.2rem 0; }
.chip { border-radius: 999px; padding: 0.1rem 0.7rem; font-size: 0.85rem; border: 1px solid; cursor: help; }
.chip-on { border-color: #2a7; color: #185; } .chip-off { border-color: #bbb; color: #777; }
#article, #article .prose { font-size: 17px; line-height: 1.65; }
#article .studio-article p, #article .studio-article li { font-size: 17px; line-height: 1.65; }
#article .studio-article .card-meta, #article .studio-article .card-label { font-size: 13px; }
#article .studio-article .notice, #article .studio-article .busy { font-size: 14px; }
#article .studio-article button, #article .studio-article .btn { font-weight: 400; font-size: 13px; }
.studio-article, .studio-head { max-width: 70ch; margin: 0 auto; }
.studio-head .state { font-weight: 600; margin: 0.3rem 0; }
.studio-head .state-running { color: #a60; } .studio-head .state-interrupted { color: #a33; }
.article-error, .card-error, .notice-error { color: #b00; white-space: pre-wrap; }
.notice { background: #f3f6ff; border-left: 3px solid #68c; padding: 0.2rem 0.6rem; font-size: 0.9rem; }
.notice-error { background: #fff3f3; border-left-color: #c33; }
.blk { position: relative; border-radius: 6px; padding: 0 0.4rem; margin: 0 -0.4rem; }
.blk:hover { background: rgba(127, 127, 127, 0.05); }
.blk.is-busy { opacity: 0.6; }
.card { border: 1px solid #ccc; border-radius: 8px; padding: 0.6rem; margin: 1rem 0; }
.card-ok { border-color: #9c9; } .card-failed, .card-invalid { border-color: #d88; }
.card-running { border-color: #e90; } .card-queued { border-color: #99c; }
.card img.card-img { max-width: 100%; max-height: 460px; display: block; margin: 0 auto; cursor: zoom-in; }
.card figcaption { font-style: italic; margin-top: 0.3rem; }
.card-meta { font-size: 0.8rem; color: #666; }
.card-credit { font-size: 0.8rem; color: #444; margin: 0.2rem 0; }
.card-illustrative { font-size: 0.85rem; font-weight: bold; color: #7a4b00; margin: 0.2rem 0; }
.publish-check li { margin: 0.2rem 0; } .publish-check { font-size: 0.9rem; }
.card-accepted { color: #080; font-weight: bold; }
.card-params { font-size: 0.8rem; display: grid; grid-template-columns: auto 1fr; gap: 0 0.6rem; margin: 0.3rem 0; }
.card-params dt { color: #666; } .card-params dd { margin: 0; }
.card-candidate { border: 1px dashed #d88; border-radius: 6px; padding: 0.4rem; margin-top: 0.4rem; }
.card-before img.thumb { max-height: 140px; border-radius: 4px; cursor: zoom-in; }
.card-label { font-size: 0.8rem; color: #666; }
.card-placeholder { padding: 2rem; text-align: center; color: #888; background: #f6f6f6; border-radius: 6px; }
.card-off { border: 2px dashed #99a; color: #445; background: #f6f6fa; }
.actions { display: flex; flex-wrap: wrap; gap: 0.3rem; margin: 0.4rem 0; font-size: 0.85rem; }
.text-actions { opacity: 0; margin-top: -0.6rem; transition: opacity 0.15s; }
.blk-text:hover .text-actions, .text-actions:focus-within { opacity: 1; }
.actions button, .actions .btn, .rewrite-diff button, .card-candidate button, [data-form] button, .notice button,
.history button {
  border: 1px solid #bbb; border-radius: 5px; padding: 0.1rem 0.5rem; background: #fff; cursor: pointer;
  font-size: 0.85rem; color: inherit; text-decoration: none;
}
.actions button.primary, [data-form] button.primary, .rewrite-diff button.primary { background: #2563eb; color: #fff; }
[data-form] { display: none; margin: 0.3rem 0; gap: 0.3rem; flex-wrap: wrap; align-items: center; }
[data-form].open { display: flex; }
[data-form] textarea { width: 100%; font: inherit; font-size: 0.95rem; }
[data-form] input { font: inherit; font-size: 0.9rem; min-width: 16rem; }
.rewrite-diff { border: 1px dashed #68c; border-radius: 6px; padding: 0.4rem; margin: 0.3rem 0; }
.diff del { background: #fdd; } .diff ins { background: #dfd; text-decoration: none; }
.history ol { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.5rem; font-size: 0.8rem; }
.history li { display: flex; flex-direction: column; align-items: flex-start; gap: 0.2rem; }
.history img.thumb { width: 96px; height: 72px; object-fit: cover; border-radius: 4px; border: 1px solid #ccc; }
.streaming { white-space: pre-wrap; }
.busy { color: #a60; font-size: 0.9rem; margin: 0.3rem 0; }
.lightbox { position: fixed; inset: 0; background: rgba(0, 0, 0, 0.85); z-index: 1000; display: flex;
  align-items: center; justify-content: center; cursor: zoom-out; }
.lightbox[hidden] { display: none; }
.lightbox img { max-width: 95vw; max-height: 95vh; }
#call-editor { position: fixed; top: 0; right: 0; width: min(520px, 100vw); height: 100vh; overflow-y: auto;
  z-index: 900; background: var(--background-fill-primary); box-shadow: -4px 0 16px rgba(0, 0, 0, 0.2);
  padding: 1rem; }
#brief-row { align-items: flex-end; }
.hidden-trigger { display: none !important; }
.studio-head button.primary { background: #2563eb; color: #fff; border: 0; border-radius: 5px; padding: 0.2rem 0.8rem; }
"""
