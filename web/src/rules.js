// Markdown shortcuts while typing (prosemirror-inputrules) and the editor's keys.
import {InputRule, inputRules, textblockTypeInputRule, wrappingInputRule} from 'prosemirror-inputrules';
import {baseKeymap, chainCommands, exitCode, setBlockType, toggleMark} from 'prosemirror-commands';
import {redo, undo} from 'prosemirror-history';
import {keymap} from 'prosemirror-keymap';
import {liftListItem, sinkListItem, splitListItem} from 'prosemirror-schema-list';
import {schema} from './markdown.js';

const {nodes, marks} = schema;

// `**bold**`, `_em_`, `` `code` ``, `~~strike~~`: the closing marker turns the text into marked text
// (the markers are the Markdown kept when it is stored: `_x_` stays `_x_`)
const markRule = (re, type, attrs = () => null) =>
  new InputRule(re, (state, match, start, end) => {
    const text = match[1];
    if (!text) return null;
    const tr = state.tr.replaceWith(start, end, schema.text(text, [type.create(attrs(match))]));
    return tr.removeStoredMark(type);
  });

const linkRule = new InputRule(/\[([^\]\n]+)\]\(([^)\s]+)\)$/, (state, match, start, end) =>
  state.tr.replaceWith(start, end, schema.text(match[1], [marks.link.create({href: match[2]})])).removeStoredMark(marks.link));

export const shortcuts = inputRules({rules: [
  textblockTypeInputRule(/^(#{1,6})\s$/, nodes.heading, (m) => ({level: m[1].length})),
  wrappingInputRule(/^\s*>\s$/, nodes.blockquote),
  wrappingInputRule(/^\s*([-+*])\s$/, nodes.bullet_list, (m) => ({bullet: m[1], tight: true})),
  wrappingInputRule(/^(\d+)([.)])\s$/, nodes.ordered_list, (m) => ({order: +m[1], delim: m[2], tight: true}),
    (m, node) => node.childCount + node.attrs.order === +m[1]),
  textblockTypeInputRule(/^```([\w-]*)\s$/, nodes.code_block, (m) => ({params: m[1]})),
  markRule(/(?<![*\\\w])\*\*([^*\s](?:[^*]*[^*\s])?)\*\*$/, marks.strong, () => ({markup: '**'})),
  markRule(/(?<![_\\\w])__([^_\s](?:[^_]*[^_\s])?)__$/, marks.strong, () => ({markup: '__'})),
  markRule(/(?<![*\\\w])\*([^*\s](?:[^*]*[^*\s])?)\*$/, marks.em, () => ({markup: '*'})),
  markRule(/(?<![_\\\w])_([^_\s](?:[^_]*[^_\s])?)_$/, marks.em, () => ({markup: '_'})),
  markRule(/(?<![`\\])`([^`\n]+)`$/, marks.code),
  markRule(/(?<![~\\])~~([^~\s](?:[^~]*[^~\s])?)~~$/, marks.strike),
  linkRule,
]});

/** The keys: bold/italic/code, lists, hard break; undo/redo stay in the editor unless
 * `articleUndo()` says the page's article-wide history takes them (then the key goes on to it). */
export const keys = (articleUndo) => {
  const local = (command) => (state, dispatch) => (articleUndo() ? false : command(state, dispatch));
  const hardBreak = chainCommands(exitCode, (state, dispatch) => {
    if (dispatch) dispatch(state.tr.replaceSelectionWith(nodes.hard_break.create()).scrollIntoView());
    return true;
  });
  return [
    keymap({
      'Mod-z': local(undo), 'Shift-Mod-z': local(redo), 'Mod-y': local(redo),
      'Mod-b': toggleMark(marks.strong), 'Mod-i': toggleMark(marks.em), 'Mod-e': toggleMark(marks.code),
      'Shift-Enter': hardBreak, 'Mod-Enter': hardBreak,
      'Enter': splitListItem(nodes.list_item), 'Tab': sinkListItem(nodes.list_item),
      'Shift-Tab': liftListItem(nodes.list_item),
      'Shift-Ctrl-0': setBlockType(nodes.paragraph),
    }),
    keymap(baseKeymap),
  ];
};
