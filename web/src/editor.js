// LLM-I Studio's in-place text editor: one ProseMirror editor per text block, autosaved as Markdown.
//
// The article is a gr.HTML whose template Gradio re-renders by patching the live DOM node by node
// (attributes, children) on every value change: a child the template does not have is removed
// with `parent.removeChild`. Each text block is a <studio-text data-block-id data-md> custom
// element that is empty in the template and keeps its one child, the editor, by declining that
// removal (`KeptChild`); the patch never walks into it. The server's Markdown arrives in `data-md`:
// when it differs from everything this page sent, someone else changed the block (a rewrite, an
// undo, the Markdown box) and the editor takes it; otherwise it confirms a save.
// Saves go one at a time through `start({save})` (page.js: the article's `save_text` event),
// `SAVE_DELAY_MS` after the last keystroke. <studio-autosave> shows "Saving…" / "Saved" /
// "Not saved: …". The API other parts of the page use is `window.studioEditor` (docs/architecture.md).
import MarkdownIt from 'markdown-it';
import {EditorState, Plugin, PluginKey, TextSelection} from 'prosemirror-state';
import {Decoration, DecorationSet, EditorView} from 'prosemirror-view';
import {history} from 'prosemirror-history';
import pmCss from 'prosemirror-view/style/prosemirror.css';
import {fromMarkdown, keepsMarkdown, roundTrip, schema, toMarkdown} from './markdown.js';
import {keys, shortcuts} from './rules.js';
import editorCss from './editor.css';

const SAVE_DELAY_MS = 800; // a pause this long after typing saves the block
const CONFIRM_TIMEOUT_MS = 20000; // no answer from the server by then: say so, and try again on the next edit
const SENT_REMEMBERED = 20;

const sheet = new CSSStyleSheet();
sheet.replaceSync(pmCss + '\n' + editorCss);
document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
const readOnly = MarkdownIt('commonmark', {html: false}).enable(['table', 'strikethrough']).disable(['image']);

const editors = new Map(); // block id -> <studio-text>
const indicators = new Set();
const listeners = {change: new Set(), saved: new Set(), status: new Set()};
const emit = (name, ...args) => listeners[name].forEach((fn) => { try { fn(...args); } catch (e) { console.error(e); } });

let transport = null; // (data) => void: sends {block, text} to the server (page.js)
let inFlight = null; // {block, text, el, seq, timer}: the one save on its way
let seq = 0;
const leftBehind = new Set(); // seqs of saves sent by an editor that left its block (saveLeaving)
let lastError = '';
const waiting = new Set(); // editors with a save due
let flushWaiters = [];

const status = () => {
  if (lastError) return {state: 'error', message: 'Not saved: ' + lastError};
  const busy = inFlight || [...editors.values()].some((e) => e.dirty);
  return busy ? {state: 'saving', message: 'Saving…'} : {state: 'saved', message: 'Saved'};
};

let shown = '';
const showStatus = () => {
  const s = status();
  if (s.state + s.message !== shown) { // typing calls this on every key: touch the page only on a change
    shown = s.state + s.message;
    indicators.forEach((el) => el.show(s));
    emit('status', s);
  }
  if (s.state !== 'saving') {
    const done = flushWaiters;
    flushWaiters = [];
    done.forEach(({resolve, reject}) => (s.state === 'saved' ? resolve() : reject(new Error(s.message))));
  }
};

const pump = () => {
  if (inFlight || !transport) return;
  for (const el of waiting) {
    waiting.delete(el);
    if (!el.isConnected || !el.dirty) continue;
    const text = el.markdown();
    if (text.trim() === el.server.trim()) { el.dirty = false; continue; }
    if (!text.trim()) { // the server would refuse it the same way each time: say so here
      lastError = 'the text is empty: type something, or delete the block with its Delete button';
      continue;
    }
    el.remember(text);
    inFlight = {block: el.blockId, text, el, seq: ++seq};
    inFlight.timer = setTimeout(() => {
      lastError = 'the server has not answered; your text is kept here and sent again with your next edit';
      inFlight = null;
      showStatus();
    }, CONFIRM_TIMEOUT_MS);
    transport({act: 'save_text', block: el.blockId, article: el.articleId, text, seq: inFlight.seq});
    break;
  }
  showStatus();
};

const settle = (el, error, text = null) => {
  if (!inFlight || inFlight.el !== el || (text !== null && inFlight.text.trim() !== text.trim())) return;
  clearTimeout(inFlight.timer);
  inFlight = null;
  lastError = error || '';
  pump();
};

// An element whose one child is its own: Gradio's patch (the template has no children here) may
// not remove it.
class KeptChild extends HTMLElement {
  removeChild(child) { return child === this.kept ? child : super.removeChild(child); }

  keep(child) {
    if (this.kept && this.kept.parentNode === this) super.removeChild(this.kept);
    this.kept = child;
    this.append(child);
    return child;
  }
}

class StudioText extends KeptChild {
  static get observedAttributes() { return ['data-block-id', 'data-article', 'data-md', 'data-error']; }

  connectedCallback() { this.reset(); }

  disconnectedCallback() {
    this.saveLeaving();
    // its save's answer comes with the same page update (page.js: answer), or never: wait for it one task
    if (inFlight && inFlight.el === this) setTimeout(() => settle(this, ''), 0);
    if (editors.get(this.blockId) === this) editors.delete(this.blockId);
    if (this.view) { this.view.destroy(); this.view = null; }
    waiting.delete(this);
    showStatus();
  }

  attributeChangedCallback(name, old, value) {
    if (!this.isConnected || old === value) return;
    // Gradio patches one attribute after another: act once both are in
    if (!this.pending) {
      this.pending = true;
      queueMicrotask(() => { this.pending = false; this.sync(); });
    }
  }

  /** The block's Markdown now (what is typed, saved or not). */
  markdown() { return this.view ? toMarkdown(this.view.state.doc) : (this.getAttribute('data-md') || ''); }

  remember(text) {
    this.sent.push(text.trim());
    if (this.sent.length > SENT_REMEMBERED) this.sent.shift();
  }

  /** Build the editor for the block the attributes name (a new element, or one Gradio re-keyed). */
  reset() {
    const id = this.getAttribute('data-block-id') || '';
    if (this.view) this.saveLeaving();
    if (editors.get(this.blockId) === this) editors.delete(this.blockId);
    this.blockId = id;
    this.articleId = Number(this.getAttribute('data-article')) || null;
    this.server = this.getAttribute('data-md') || '';
    this.sent = [];
    this.dirty = false;
    editors.set(id, this);
    if (this.view) { this.view.destroy(); this.view = null; }
    if (!keepsMarkdown(this.server)) {
      // the editor would change this block's Markdown: shown as it renders, edited as Markdown
      const box = this.keep(document.createElement('div'));
      box.className = 'read-only';
      box.innerHTML = readOnly.render(this.server) +
        '<p class="note">This block has Markdown the editor cannot keep exactly: use “Edit as Markdown”.</p>';
      return;
    }
    const mount = this.keep(document.createElement('div'));
    mount.className = 'studio-editor';
    this.view = new EditorView(mount, {
      state: this.freshState(this.server),
      attributes: {'aria-label': 'Text of block ' + id, spellcheck: 'true'},
      dispatchTransaction: (tr) => this.apply(tr),
    });
  }

  freshState(md) {
    return EditorState.create({
      doc: fromMarkdown(md),
      plugins: [shortcuts, ...keys(() => !!api.articleUndo), history(), emptyHint, suggestionMarks],
    });
  }

  apply(tr) {
    this.view.updateState(this.view.state.apply(tr));
    if (!tr.docChanged || tr.getMeta('studio-server')) return;
    this.dirty = true;
    lastError = '';
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { waiting.add(this); pump(); }, SAVE_DELAY_MS);
    showStatus();
    if (listeners.change.size) emit('change', this.blockId, this.markdown());
  }

  /** This element leaves its block (removed, or re-keyed by Gradio's patch to another block or
   * article): its unsaved text goes now, under the block and article it was typed in. */
  saveLeaving() {
    clearTimeout(this.timer);
    waiting.delete(this);
    if (!this.dirty || !transport) return;
    this.dirty = false;
    const text = this.markdown();
    const sending = inFlight && inFlight.el === this && inFlight.text.trim() === text.trim();
    if (text.trim() && text.trim() !== this.server.trim() && !sending) {
      leftBehind.add(++seq);
      transport({act: 'save_text', block: this.blockId, article: this.articleId, text, seq});
    }
  }

  /** Queue this block's unsaved text at once (leaving the page, API flush). */
  saveNow() {
    if (!this.dirty) return;
    clearTimeout(this.timer);
    waiting.add(this);
    pump();
  }

  /** The server's attributes changed: a confirmed save, a refused one, or someone else's text. */
  sync() {
    const id = this.getAttribute('data-block-id') || '';
    const article = Number(this.getAttribute('data-article')) || null;
    if (id !== this.blockId || article !== this.articleId) { this.reset(); showStatus(); return; }
    const md = this.getAttribute('data-md') || '';
    const error = this.getAttribute('data-error') || '';
    if (md.trim() !== this.server.trim()) {
      this.server = md;
      if (this.sent.includes(md.trim())) {
        if (md.trim() === this.markdown().trim()) this.dirty = false;
        emit('saved', this.blockId, md);
        settle(this, '', md);
      } else {
        this.setText(md, false); // a rewrite, an undo, the Markdown box: the stored text wins
      }
    } else if (error && inFlight && inFlight.el === this) {
      settle(this, error);
    }
    showStatus();
  }

  /** Replace the whole text (Markdown); `save`: store it as a new version (after the pause). */
  setText(md, save) {
    if (!this.view || (save && !keepsMarkdown(md))) return false;
    const doc = fromMarkdown(md);
    const tr = this.view.state.tr.replaceWith(0, this.view.state.doc.content.size, doc.content);
    if (!save) {
      tr.setMeta('studio-server', true).setMeta('addToHistory', false);
      this.dirty = false;
      clearTimeout(this.timer);
      waiting.delete(this);
    }
    this.view.dispatch(tr);
    return true;
  }
}

// an empty block shows what to do
const emptyHint = new Plugin({
  props: {
    attributes: (state) => (state.doc.childCount === 1 && state.doc.firstChild.content.size === 0
      ? {class: 'is-empty', 'data-hint': 'Type here…'} : {}),
  },
});

// a suggestion on a selection (static/suggest.js) shown in the text itself: the selected words are
// hidden and the page's tracked-change element stands in their place, as a widget ProseMirror
// leaves alone (its own clicks, its own DOM updates); mapped through typing elsewhere
const suggestionKey = new PluginKey('studio-suggestion');
const suggestionMarks = new Plugin({
  key: suggestionKey,
  state: {
    init: () => DecorationSet.empty,
    apply(tr, set) {
      const meta = tr.getMeta(suggestionKey);
      if (meta === 'clear') return DecorationSet.empty;
      if (meta) {
        return DecorationSet.create(tr.doc, [
          Decoration.inline(meta.from, meta.to, {class: 'sg-replaced'}),
          Decoration.widget(meta.to, meta.dom, {side: 1, stopEvent: () => true, ignoreSelection: true, key: 'sg'}),
        ]);
      }
      return set.map(tr.mapping, tr.doc);
    },
  },
  props: {decorations: (state) => suggestionKey.getState(state)},
});

class StudioAutosave extends KeptChild {
  connectedCallback() {
    if (!this.out) {
      this.out = this.keep(document.createElement('span'));
      this.out.setAttribute('role', 'status');
      this.out.setAttribute('aria-live', 'polite');
    }
    indicators.add(this);
    this.show(status()); // a new indicator (the head re-rendered) shows the state at once
  }

  disconnectedCallback() { indicators.delete(this); }

  show(s) {
    this.out.className = 'autosave ' + s.state;
    this.out.textContent = s.message;
  }
}

const byId = (blockId) => editors.get(String(blockId)) || null;

/** window.studioEditor: the page's handle on the text editors (documented in docs/architecture.md). */
const api = {
  version: 1,
  /** Connect the save transport: `save({act: 'save_text', block, text})` (page.js does this). */
  start({save}) {
    transport = save;
    pump();
  },
  /** The server's answer to one save ({seq, error}: page.js passes on the page value's `saved`). */
  answer({seq: answered, error}) {
    if (leftBehind.delete(answered)) { // its editor has gone; a refusal is still said
      if (error) { lastError = error; showStatus(); }
      return;
    }
    if (!inFlight || inFlight.seq !== answered) return;
    const {el, text} = inFlight;
    if (!error && el.isConnected) {
      el.server = text; // stored as sent (its data-md confirms the same)
      if (text.trim() === el.markdown().trim()) el.dirty = false;
      emit('saved', el.blockId, text);
    }
    settle(el, error || '');
  },
  /** Block ids with an editor on the page. */
  blocks: () => [...editors.keys()],
  /** A block's Markdown as typed now (saved or not); null for a block without an editor. */
  getMarkdown: (blockId) => (byId(blockId) ? byId(blockId).markdown() : null),
  /** Replace a block's text with Markdown and save it as a new version (after the usual pause);
   * false when the block has no editor, or the Markdown is one the editor cannot keep (keepsMarkdown). */
  setMarkdown(blockId, md, {save = true} = {}) {
    const el = byId(blockId);
    return el ? el.setText(md, save) : false;
  },
  /** Put the caret into a block ('start' or 'end'). */
  focus(blockId, where = 'end') {
    const el = byId(blockId);
    if (!el || !el.view) return false;
    const {doc} = el.view.state;
    const sel = where === 'start' ? TextSelection.atStart(doc) : TextSelection.atEnd(doc);
    el.view.dispatch(el.view.state.tr.setSelection(sel));
    el.view.focus();
    return true;
  },
  /** Show `dom` (the page's tracked-change element) in place of the block's selected text, which
   * is hidden until clearSuggestion; false when the block has no editor or nothing is selected. */
  placeSuggestion(blockId, dom) {
    const el = byId(blockId);
    if (!el || !el.view || el.view.state.selection.empty) return false;
    const {from, to} = el.view.state.selection;
    el.view.dispatch(el.view.state.tr.setMeta(suggestionKey, {from, to, dom}));
    return true;
  },
  /** Take a placed suggestion away again (the selected text shows as it is stored). */
  clearSuggestion(blockId) {
    const el = byId(blockId);
    if (el && el.view) el.view.dispatch(el.view.state.tr.setMeta(suggestionKey, 'clear'));
  },
  /** The block's ProseMirror EditorView (for decorations such as tracked changes), or null. */
  view: (blockId) => (byId(blockId) ? byId(blockId).view : null),
  /** Save every pending edit now; resolves when all are stored, rejects with the reason if not. */
  flush() {
    editors.forEach((el) => el.saveNow());
    const s = status();
    if (s.state === 'saved') return Promise.resolve();
    if (s.state === 'error') return Promise.reject(new Error(s.message));
    return new Promise((resolve, reject) => flushWaiters.push({resolve, reject}));
  },
  /** {state: 'saved' | 'saving' | 'error', message}: what the autosave indicator shows. */
  status,
  /** Listen: 'change' (blockId, markdown), 'saved' (blockId, markdown), 'status' ({state, message}). */
  on(name, fn) { listeners[name].add(fn); return () => listeners[name].delete(fn); },
  /** Set true when the page's article-wide history takes Ctrl/Cmd+Z and Shift+Ctrl/Cmd+Z. */
  articleUndo: false,
  // the converters the editor stores with, and the ProseMirror parts a plugin needs
  fromMarkdown, toMarkdown, roundTrip, keepsMarkdown,
  pm: {schema, Plugin, PluginKey, Decoration, DecorationSet, TextSelection, EditorState},
};

if (!window.studioEditor) {
  window.studioEditor = api;
  customElements.define('studio-text', StudioText);
  customElements.define('studio-autosave', StudioAutosave);
  const leave = () => editors.forEach((el) => el.saveNow());
  window.addEventListener('pagehide', leave);
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') leave(); });
}
