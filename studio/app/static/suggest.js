// Ask about a selection (the js_on_load of the suggestion layer, studio/app/ui_suggest.py).
// Select text inside one text block (an element with data-block-id: the editor's blocks, or
// data-block: today's rendered paragraphs) and a small menu offers shorten, expand, simplify,
// change tone, translate, fix grammar and ask…; the choice is one `suggest` event. The server
// streams the suggestion's state into this component's value; it is shown in place of the
// selection as a tracked change (struck-out deletions, marked insertions) with a tick and a
// cross per change and Accept all / Reject all; the decision is one `decide` event, after which
// the article is reloaded from the store. An editor that owns its DOM (contenteditable) gets
// the change beside the block instead, or draws it itself: window.studioEditor.showSuggestion; the
// studio's own editor puts the change in its text where the selection stood (placeSuggestion).
const BLOCK = '[data-block-id], [data-block]';
const NOT_TEXT = '.actions, [data-form], .rewrite-diff, .notice, .busy, .card, .suggest-change, .suggest-bar, #suggest-menu';
const ACTIONS = [['shorten', 'Shorten'], ['expand', 'Expand'], ['simplify', 'Simplify'], ['tone', 'Change tone…'],
  ['translate', 'Translate…'], ['grammar', 'Fix grammar'], ['ask', 'Ask…']];
const DETAIL = {tone: 'e.g. warmer, more formal', translate: 'language, e.g. German', ask: 'what should change?'};
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
const keyOf = (blk) => blk.dataset.blockId || blk.dataset.block;
const blockOf = (node) => {
  const el = node && (node.nodeType === 1 ? node : node.parentElement);
  return el ? el.closest(BLOCK) : null;
};
const isTextBlock = (blk) => blk && !blk.matches('.blk-image') && !blk.querySelector('figure.card');
const S = window.__studioSuggest || (window.__studioSuggest = {current: null, saved: null, nonce: 0});
S.trigger = trigger;
S.server = server;  // server.stop_suggestion(token): the Stop of a streaming suggestion

let menu = document.getElementById('suggest-menu');
if (!menu) {
  menu = document.createElement('div');
  menu.id = 'suggest-menu';
  menu.hidden = true;
  menu.setAttribute('role', 'menu');
  menu.innerHTML = ACTIONS.map(([a, label]) => `<button type="button" role="menuitem" data-sg-ask="${a}">${label}</button>`).join('')
    + '<form class="suggest-detail" hidden><input name="detail" autocomplete="off"><button type="submit">Go</button></form>';
  document.body.appendChild(menu);
}

const hideMenu = () => { menu.hidden = true; menu.querySelector('form').hidden = true; };
const selectionInBlock = () => {
  const sel = window.getSelection();
  if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
  const range = sel.getRangeAt(0);
  const blk = blockOf(range.startContainer);
  if (!isTextBlock(blk) || blockOf(range.endContainer) !== blk) return null;
  for (const node of [range.startContainer, range.endContainer]) {
    const el = node.nodeType === 1 ? node : node.parentElement;
    if (el.closest(NOT_TEXT)) return null;
  }
  const text = sel.toString();
  if (!text.trim()) return null;
  return {blk, range: range.cloneRange(), text};
};
const showMenu = () => {
  if (!menu.hidden && menu.contains(document.activeElement)) return;
  const found = selectionInBlock();
  if (!found || S.current && S.current.streaming) { hideMenu(); return; }
  S.saved = found;
  const rect = found.range.getBoundingClientRect();
  menu.hidden = false;  // shown first, so its size is known: below the selection, or above it near the bottom
  const high = menu.offsetHeight;
  const below = rect.bottom + 6 + high <= window.innerHeight;
  const top = below ? rect.bottom + 6 : rect.top - high - 6;
  menu.style.top = Math.max(4, Math.min(window.innerHeight - high - 4, top)) + 'px';  // always on screen
  menu.style.left = Math.max(4, Math.min(window.innerWidth - menu.offsetWidth - 4, rect.left)) + 'px';
};
const S_listen = () => {
  if (window.__studioSuggestListening) return;
  window.__studioSuggestListening = true;
  document.addEventListener('mouseup', () => setTimeout(() => window.__studioSuggest.show(), 0));
  let settle = 0;  // touch screens select with a long press: no mouseup, only selection changes
  document.addEventListener('selectionchange', () => {
    clearTimeout(settle);
    settle = setTimeout(() => window.__studioSuggest.show(), 400);
  });
  document.addEventListener('keyup', (e) => { if (e.shiftKey || e.key === 'Shift') setTimeout(() => window.__studioSuggest.show(), 0); });
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    window.__studioSuggest.hide();
    if (window.__studioSuggest.current && window.__studioSuggest.current.streaming) window.__studioSuggest.stop();
  });
  document.addEventListener('mousedown', (e) => { if (!e.target.closest('#suggest-menu')) window.__studioSuggest.hide(); });
};
S.show = showMenu;
S.hide = hideMenu;
S_listen();

// --- asking ------------------------------------------------------------------------------------
const beforeText = (blk, range) => {
  const pre = document.createRange();
  pre.selectNodeContents(blk);
  pre.setEnd(range.startContainer, range.startOffset);
  return pre.toString().slice(-300);
};
const ask = (action, detail) => {
  const saved = S.saved;
  hideMenu();
  if (!saved) return;
  restore();
  const {blk, range, text} = saved;
  const editor = window.studioEditor && typeof window.studioEditor.showSuggestion === 'function';
  const owned = editor || blk.isContentEditable || blk.querySelector('[contenteditable=true]');
  const box = document.createElement('span');
  box.className = 'suggest-change is-streaming';
  box.dataset.for = keyOf(blk);
  let original = null;
  const api = window.studioEditor;
  // the in-place editor shows the change in its text, in place of the selection (placeSuggestion)
  const placed = !editor && owned && api && typeof api.placeSuggestion === 'function'
    && api.placeSuggestion(keyOf(blk), box);
  if (placed) {
    // the editor keeps the selected words (hidden) and puts the box where they stood
  } else if (owned) {  // another editor that keeps its own DOM: the change goes beside the block
    box.classList.add('beside');
    blk.after(box);
  } else {
    original = range.extractContents();
    range.insertNode(box);
  }
  const nonce = ++S.nonce;
  const token = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  S.current = {nonce, token, blk, box, original, block: keyOf(blk), streaming: true, picks: {}, state: null, owned: !!editor,
    placed: !!placed};
  box.innerHTML = `<span class="sg-pending">${esc(text)}</span> <span class="sg-wait">asking the model…</span>`
    + ' <span class="suggest-bar"><button type="button" data-sg="stop">Stop</button></span>';
  window.getSelection().removeAllRanges();
  S.trigger('suggest', {ask: {block: keyOf(blk), text, before: beforeText(blk, range), action, detail: detail || '', nonce, token}});
};
const restore = () => {
  const c = S.current;
  S.current = null;
  if (!c) return;
  if ((c.owned || c.placed) && window.studioEditor && window.studioEditor.clearSuggestion) {
    window.studioEditor.clearSuggestion(c.block);
  }
  if (c.placed) return;  // the editor drew the box and took it away again
  if (c.original && c.box.isConnected) c.box.replaceWith(c.original);
  else if (c.box.isConnected) c.box.remove();
};
S.restore = restore;
S.stop = () => {  // the model stream is closed on the server; the selected text comes back at once
  const c = S.current;
  if (c && c.streaming && S.server) S.server.stop_suggestion(c.token);
  restore();
};

menu.addEventListener('mousedown', (e) => { if (!e.target.closest('input')) e.preventDefault(); });  // keep the selection
menu.addEventListener('click', (e) => {
  const btn = e.target.closest('[data-sg-ask]');
  if (!btn) return;
  const action = btn.dataset.sgAsk;
  if (DETAIL[action]) {
    const form = menu.querySelector('form');
    form.hidden = false;
    form.dataset.action = action;
    const input = form.querySelector('input');
    input.placeholder = DETAIL[action];
    input.value = '';
    input.focus();
    return;
  }
  ask(action, '');
});
menu.querySelector('form').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = e.target;
  const detail = form.querySelector('input').value.trim();
  if (!detail && form.dataset.action === 'ask') { form.querySelector('input').focus(); return; }
  ask(form.dataset.action, detail);
});

// --- the tracked change ------------------------------------------------------------------------
const segmentHtml = (s, picks, done) => {
  if (s.kind === 'same') return esc(s.old);
  if (s.kind === 'pending') return `<span class="sg-pending">${esc(s.old)}</span>`;
  const pick = picks[s.id] || '';
  const buttons = done ? `<span class="sg-pick"><button type="button" data-sg="take" title="Accept this change">✓</button>`
    + `<button type="button" data-sg="drop" title="Reject this change">✗</button></span>` : '';
  return `<span class="sg-change ${pick ? 'sg-' + pick : ''}" data-change="${esc(s.id)}">`
    + (s.old ? `<del>${esc(s.old)}</del>` : '') + (s.new ? `<ins>${esc(s.new)}</ins>` : '') + buttons + '</span>';
};
const draw = () => {
  const c = S.current;
  if (!c || !c.state) return;
  const st = c.state;
  if (c.owned) { window.studioEditor.showSuggestion(c.block, st, c.picks); return; }
  const done = !st.streaming;
  const some = Object.keys(c.picks).length > 0;
  const head = `<span class="sg-label">${esc(st.label || 'Suggestion')}${done ? '' : ' (writing…)'}</span>`;
  const bar = !done ? '<span class="suggest-bar"><button type="button" data-sg="stop">Stop</button></span>' : (st.changes.length
    ? `<span class="suggest-bar"><button type="button" data-sg="accept" class="primary">${some ? 'Accept the rest' : 'Accept all'}</button>`
      + `<button type="button" data-sg="reject">${some ? 'Reject the rest' : 'Reject all'}</button></span>`
    : '<span class="suggest-bar">No change suggested. <button type="button" data-sg="reject">Close</button></span>');
  c.box.classList.toggle('is-streaming', !done);
  c.box.innerHTML = head + st.segments.map((s) => segmentHtml(s, c.picks, done)).join('') + bar;
};
const decide = (rest) => {
  const c = S.current;
  if (!c || !c.state || c.state.streaming) return;
  const ids = c.state.changes;
  const taken = ids.filter((id) => rest === 'accept' ? c.picks[id] !== 'drop' : c.picks[id] === 'take');
  c.box.classList.add('is-saving');
  S.trigger('decide', {decision: {suggestion: c.state.id, block: c.block, accept: taken.length ? taken.join(',') : 'none'}});
};
document.addEventListener('click', (e) => {
  const btn = e.target.closest('.suggest-change [data-sg]');
  const c = S.current;
  if (!btn || !c || !c.box.contains(btn)) return;
  e.preventDefault();
  const what = btn.dataset.sg;
  if (what === 'take' || what === 'drop') {
    const id = btn.closest('[data-change]').dataset.change;
    c.picks[id] = c.picks[id] === what ? undefined : what;
    if (!c.picks[id]) delete c.picks[id];
    draw();
  } else if (what === 'stop') {
    S.stop();
  } else if (what === 'accept' || what === 'reject') {
    if (what === 'reject' && !c.state.changes.length) { restore(); return; }
    decide(what);
  }
});
S.decide = decide;

watch('value', () => {
  const v = props.value;
  const c = S.current;
  if (!v) {  // the decision was stored: the article reloads itself from the store
    if (c && c.box.classList.contains('is-saving')) { if (c.box.isConnected) restore(); }
    return;
  }
  if (!c || v.nonce !== c.nonce) return;
  if (v.error) {
    restore();
    const blk = document.querySelector(`[data-block-id="${CSS.escape(v.block)}"], [data-block="${CSS.escape(v.block)}"]`);
    if (blk) {
      const note = document.createElement('p');
      note.className = 'notice notice-error suggest-error';
      note.textContent = v.error;
      blk.appendChild(note);
    }
    return;
  }
  c.state = v;
  c.streaming = !!v.streaming;
  draw();
});
