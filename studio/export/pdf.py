"""PDF through WeasyPrint, from the same HTML as the HTML export (its print CSS applies).

Two guards:
- WeasyPrint fetches nothing: the document holds only data: URLs, and the URL fetcher
  refuses everything else (no file:// reads, no network), whatever the sanitizer let by.
- CJK text needs a CJK font. Without one, every Chinese/Japanese/Korean character would
  print as an empty box, silently; so the export checks fontconfig first and refuses with
  the command that fixes it.
"""

from __future__ import annotations

import shutil
import subprocess

from studio.core.article import Article
from studio.core.errors import ConfigError
from studio.export.html import render_html
from studio.export.sources import all_text, cjk_languages

CJK_FONT_HINT = "install fonts-noto-cjk (apt-get install fonts-noto-cjk)"


def missing_cjk_languages(text: str) -> list[str]:
    """The CJK languages used in ``text`` that no installed font covers (per fontconfig)."""
    needed = cjk_languages(text)
    if not needed:
        return []
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return needed  # no fontconfig: WeasyPrint cannot pick a CJK font either
    missing = []
    for lang in needed:
        try:
            found = subprocess.run(
                [fc_list, f":lang={lang}", "family"], capture_output=True, text=True, timeout=20, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            found = ""
        if not found.strip():
            missing.append(lang)
    return missing


def render_pdf(
    article: Article, *, appendix: bool = True, title: str | None = None, include_unfinished: bool = False
) -> bytes:
    """The article as PDF bytes. Raises ConfigError when CJK text has no font to print with."""
    missing = missing_cjk_languages(all_text(article, title))
    if missing:
        raise ConfigError(
            f"The article contains {'/'.join(missing)} text but no font for it is installed, so the PDF would "
            f"show empty boxes: {CJK_FONT_HINT}. The HTML, Markdown and DOCX exports work without it."
        )
    import weasyprint  # heavy (pango); imported only when a PDF is asked for

    html = render_html(article, appendix=appendix, title=title, include_unfinished=include_unfinished)
    # data: only; file:, http(s): and the rest are refused (no local reads, no network).
    fetcher = weasyprint.urls.URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=5)
    document = weasyprint.HTML(string=html, url_fetcher=fetcher, base_url=None)
    # pdf_tags: a tagged PDF, so each figure's alt text reaches screen readers (WeasyPrint >= 60)
    pdf = document.write_pdf(pdf_tags=True)
    assert pdf is not None
    return pdf
