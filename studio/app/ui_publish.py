"""The publish side of the page: the publish check before every export, the export itself, and
*Copy as Markdown* / *Copy as rich text*. Wired by ``studio.app.ui.build_app`` onto its components
(passed as a namespace).

Export is two steps only when there is something to look at: *Export this article* first runs
the publish check (``studio.export.publish_check``); an empty checklist exports at once, otherwise
the checklist is shown beside the button, each item linking to its card, and *Export anyway* is the
one click that exports regardless. Placeholders and failed images are left out unless the
"Figure missing" box is asked for; no operator text reaches an export either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import gradio as gr
from markupsafe import Markup

from studio.app.failures import reason
from studio.app.private_exports import private_export_dir, seal
from studio.app.session import Session, Studio
from studio.app.ui_server import session_of
from studio.export.publish_check import CheckItem

CLIPBOARD_JS = """(md, html) => {
  if (!md || !navigator.clipboard) return;
  if (html && window.ClipboardItem) {
    const item = new ClipboardItem({"text/html": new Blob([html], {type: "text/html"}),
                                    "text/plain": new Blob([md], {type: "text/plain"})});
    navigator.clipboard.write([item]).catch(() => navigator.clipboard.writeText(md).catch(() => {}));
  } else { navigator.clipboard.writeText(md).catch(() => {}); }
}"""


def checklist_html(items: list[CheckItem]) -> str:
    """The checklist as safe HTML: one line per item, a link to its card where it has one."""
    if not items:
        return '<p class="publish-check publish-ok">Publish check: nothing to fix.</p>'
    rows = Markup("").join(
        Markup('<li data-kind="{}">{} <a href="#card-{}">show</a></li>').format(i.kind, i.message, i.block_id)
        if i.block_id
        else Markup('<li data-kind="{}">{}</li>').format(i.kind, i.message)
        for i in items
    )
    head = "Before publishing, look at these (or export anyway):"
    return str(Markup('<div class="publish-check"><p>{}</p><ol>{}</ol></div>').format(head, rows))


def studio_base(request: gr.Request | None) -> str | None:
    """The origin the browser reached this studio at (for absolute image links), or None."""
    url = getattr(request, "url", None) if request is not None else None
    if url is None:
        return None
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


@dataclass(frozen=True)
class PublishWidgets:
    """The components of ``build_app`` that the export and copy side wires, each by name."""

    state: Any
    appendix: Any
    checklist: Any
    copy_btn: Any
    copy_msg: Any
    download: Any
    export_anyway: Any
    export_btn: Any
    export_msg: Any
    fmt: Any
    html_out: Any
    keep_unfinished: Any
    link_images: Any
    markdown_out: Any
    rich_btn: Any


def wire_publish(studio: Studio, ui: PublishWidgets) -> None:
    state = ui.state

    def do_export(sess: Session, f: str, with_appendix: bool, keep: bool) -> tuple[Any, str]:
        out = private_export_dir(sess.user)  # only sess.user can download it (private_exports)
        try:
            path = sess.export(f, out, appendix=bool(with_appendix), include_unfinished=bool(keep))
        except Exception as exc:  # the one translator
            return None, f"Not exported: {reason(exc)}"
        finally:
            seal(out)
        return str(path), f"Exported “{sess.title()}” (article {sess.article_id}) as {path.name}."

    def export(sess: Session | None, f: str, with_appendix: bool, keep: bool) -> tuple[Any, ...]:
        """The publish check first; an empty checklist exports at once."""
        sess = session_of(studio, sess)
        try:
            items = sess.publish_check()
        except Exception as exc:  # the one translator
            return None, f"Not exported: {reason(exc)}", "", gr.update(visible=False)
        if items:
            count = f"{len(items)} thing{'s' if len(items) != 1 else ''}"
            msg = f"Not exported yet: the publish check found {count} to look at. Fix them, or Export anyway."
            return None, msg, checklist_html(items), gr.update(visible=True)
        path, msg = do_export(sess, f, with_appendix, keep)
        return path, msg, checklist_html(items), gr.update(visible=False)

    def export_anyway(sess: Session | None, f: str, with_appendix: bool, keep: bool) -> tuple[Any, str]:
        return do_export(session_of(studio, sess), f, with_appendix, keep)

    inputs = [state, ui.fmt, ui.appendix, ui.keep_unfinished]
    ui.export_btn.click(export, inputs, [ui.download, ui.export_msg, ui.checklist, ui.export_anyway], api_name="export")
    ui.export_anyway.click(export_anyway, inputs, [ui.download, ui.export_msg], api_name="export_anyway")

    def to_markdown(sess: Session | None, linked: bool, request: gr.Request) -> tuple[str, str, str]:
        base = studio_base(request) if linked else None
        try:
            return session_of(studio, sess).markdown(base), "", "Copied as Markdown."
        except Exception as exc:  # the one translator
            return "", "", f"Nothing copied: {reason(exc)}"

    def to_rich_text(sess: Session | None, linked: bool, request: gr.Request) -> tuple[str, str, str]:
        base = studio_base(request) if linked else None
        try:
            sess = session_of(studio, sess)
            return sess.markdown(base), sess.rich_text(base), "Copied as rich text."
        except Exception as exc:  # the one translator
            return "", "", f"Nothing copied: {reason(exc)}"

    outs = [ui.markdown_out, ui.html_out, ui.copy_msg]
    ui.copy_btn.click(to_markdown, [state, ui.link_images], outs, api_name="markdown").then(
        None, [ui.markdown_out, ui.html_out], None, js=CLIPBOARD_JS
    )
    ui.rich_btn.click(to_rich_text, [state, ui.link_images], outs, api_name="rich_text").then(
        None, [ui.markdown_out, ui.html_out], None, js=CLIPBOARD_JS
    )
