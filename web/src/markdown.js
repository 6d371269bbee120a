// Markdown <-> ProseMirror document for the in-place editor (prosemirror-markdown + markdown-it).
//
// The stored form of a text block is Markdown; the editor never stores anything else. The schema
// is prosemirror-markdown's CommonMark schema plus what the studio's own renderer
// (studio/export/html.py: CommonMark + strikethrough) shows, and it remembers the writer's
// choice of markers (`-` or `*` bullets, `_` or `*` emphasis, `1.` or `1)`, `---` or `***`), so
// an edit to one word does not rewrite the rest of the block's Markdown.
// `keepsMarkdown(md)` says whether a block survives the round trip: exactly, or rendering the
// same HTML (escapes only). A block that does not (a table, say) is edited as Markdown instead.
import MarkdownIt from 'markdown-it';
import {Schema} from 'prosemirror-model';
import {MarkdownParser, MarkdownSerializer, defaultMarkdownSerializer, schema as base} from 'prosemirror-markdown';

const SAFE_HREF = /^(https?:|mailto:|#|\/(?!\/))/i;

const nodes = base.spec.nodes
  .update('bullet_list', {...base.spec.nodes.get('bullet_list'),
    attrs: {tight: {default: false}, bullet: {default: '-'}}})
  .update('ordered_list', {...base.spec.nodes.get('ordered_list'),
    attrs: {order: {default: 1}, tight: {default: false}, delim: {default: '.'}}})
  .update('horizontal_rule', {...base.spec.nodes.get('horizontal_rule'), attrs: {markup: {default: '---'}}})
  .update('code_block', {...base.spec.nodes.get('code_block'),
    attrs: {params: {default: ''}, fence: {default: '```'}}})
  // an image inside text is shown as its alt text: the editor never fetches a URL from the article
  .update('image', {...base.spec.nodes.get('image'),
    toDOM: (node) => ['span', {class: 'md-image', title: node.attrs.src}, '[image: ' + (node.attrs.alt || '') + ']']});

const marks = base.spec.marks
  .update('em', {...base.spec.marks.get('em'), attrs: {markup: {default: '*'}}})
  .update('strong', {...base.spec.marks.get('strong'), attrs: {markup: {default: '**'}}})
  .update('link', {...base.spec.marks.get('link'),
    // hostile hrefs (javascript:, data:) are kept in the Markdown but never put on the page
    toDOM: (mark) => ['a', {href: SAFE_HREF.test(mark.attrs.href) ? mark.attrs.href : null,
      title: mark.attrs.title, rel: 'noopener noreferrer nofollow'}]})
  .addToEnd('strike', {parseDOM: [{tag: 's'}, {tag: 'del'}], toDOM: () => ['s', 0]});

export const schema = new Schema({nodes, marks});

const listIsTight = (tokens, i) => {
  while (++i < tokens.length) if (tokens[i].type !== 'list_item_open') return tokens[i].hidden;
  return false;
};

const tokenizer = MarkdownIt('commonmark', {html: false}).enable(['strikethrough']);
// a link keeps its URL as written (markdown-it would percent-encode `東京`: the same link, other
// Markdown); validateLink still refuses javascript: and the like
tokenizer.normalizeLink = (url) => url;

export const parser = new MarkdownParser(schema, tokenizer, {
  blockquote: {block: 'blockquote'},
  paragraph: {block: 'paragraph'},
  list_item: {block: 'list_item'},
  bullet_list: {block: 'bullet_list', getAttrs: (tok, tokens, i) => ({tight: listIsTight(tokens, i), bullet: tok.markup || '-'})},
  ordered_list: {block: 'ordered_list', getAttrs: (tok, tokens, i) => ({
    order: +tok.attrGet('start') || 1, tight: listIsTight(tokens, i), delim: tok.markup || '.'})},
  heading: {block: 'heading', getAttrs: (tok) => ({level: +tok.tag.slice(1)})},
  code_block: {block: 'code_block', noCloseToken: true},
  fence: {block: 'code_block', getAttrs: (tok) => ({params: tok.info || '', fence: tok.markup || '```'}), noCloseToken: true},
  hr: {node: 'horizontal_rule', getAttrs: (tok) => ({markup: tok.markup || '---'})},
  image: {node: 'image', getAttrs: (tok) => ({
    src: tok.attrGet('src'), title: tok.attrGet('title') || null,
    alt: (tok.children[0] && tok.children[0].content) || null})},
  hardbreak: {node: 'hard_break'},
  em: {mark: 'em', getAttrs: (tok) => ({markup: tok.markup || '*'})},
  strong: {mark: 'strong', getAttrs: (tok) => ({markup: tok.markup || '**'})},
  s: {mark: 'strike'},
  link: {mark: 'link', getAttrs: (tok) => ({href: tok.attrGet('href'), title: tok.attrGet('title') || null})},
  code_inline: {mark: 'code', noCloseToken: true},
});

// a soft line break (a newline inside a paragraph) stays a newline, as the writer typed it
parser.tokenHandlers.softbreak = (state) => state.addText('\n');

// Two lists in a row: prosemirror-markdown keeps them apart with two blank lines, which a
// different marker (`-` then `*`, `1.` then `1)`) already does with one, as the writer wrote it.
const separate = (state, node, marker) => {
  const prev = state.closed;
  if (prev && prev.type === node.type && prev.attrs[marker] !== node.attrs[marker]) state.flushClose(2);
};

const base_nodes = defaultMarkdownSerializer.nodes;
export const serializer = new MarkdownSerializer({
  ...base_nodes,
  bullet_list(state, node) {
    separate(state, node, 'bullet');
    state.renderList(node, '  ', () => (node.attrs.bullet || '-') + ' ');
  },
  ordered_list(state, node) {
    separate(state, node, 'delim');
    const start = node.attrs.order ?? 1;
    const width = String(start + node.childCount - 1).length;
    const delim = node.attrs.delim || '.';
    state.renderList(node, state.repeat(' ', width + 2), (i) => {
      const n = String(start + i);
      return state.repeat(' ', width - n.length) + n + delim + ' ';
    });
  },
  code_block(state, node) {
    const fence = node.attrs.fence && !node.textContent.includes(node.attrs.fence) ? node.attrs.fence : '```';
    const ticks = node.textContent.match(/`{3,}/gm);
    const use = fence === '```' && ticks ? ticks.sort().slice(-1)[0] + '`' : fence;
    state.write(use + (node.attrs.params || '') + '\n');
    state.text(node.textContent, false);
    state.write('\n');
    state.write(use);
    state.closeBlock(node);
  },
}, {
  ...defaultMarkdownSerializer.marks,
  em: {open: (_s, mark) => mark.attrs.markup || '*', close: (_s, mark) => mark.attrs.markup || '*',
    mixable: true, expelEnclosingWhitespace: true},
  strong: {open: (_s, mark) => mark.attrs.markup || '**', close: (_s, mark) => mark.attrs.markup || '**',
    mixable: true, expelEnclosingWhitespace: true},
  strike: {open: '~~', close: '~~', mixable: true, expelEnclosingWhitespace: true},
});

/** The document of a block's Markdown. */
export const fromMarkdown = (md) => parser.parse(md || '');

/** A document as Markdown: the block's stored form (no trailing blank lines). */
export const toMarkdown = (doc) => serializer.serialize(doc, {tightLists: false}).replace(/\s+$/, '');

// how the studio renders Markdown (studio/export/html.py): the judge of "renders the same"
const renderer = MarkdownIt('commonmark', {html: true}).enable(['table', 'strikethrough']);

/** Markdown -> editor -> Markdown for a block as it is stored. */
export const roundTrip = (md) => toMarkdown(fromMarkdown(md));

/** Whether editing the block in place keeps its Markdown: the round trip gives it back exactly,
 * or renders the same HTML (only escapes differ). */
export const keepsMarkdown = (md) => {
  const text = (md || '').replace(/\s+$/, '');
  try {
    const back = roundTrip(text);
    return back === text || renderer.render(back) === renderer.render(text);
  } catch (e) {
    return false;
  }
};
