"""Word counts that mean something in every script.

Chinese, Japanese and Korean are not written with spaces between words, so counting by spaces
calls a long Chinese article "32 words". Here every Han, Hiragana, Katakana and Hangul character
counts as one (the usual measure for those languages: characters), and every other run of letters
or digits counts as one word.
"""

from __future__ import annotations

import re

# Han (CJK unified ideographs and extensions, compatibility ideographs), Hiragana, Katakana
# (with the phonetic extensions and half-width forms) and Hangul (syllables and jamo).
_CJK_CHAR = (
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\U00030000-\U0003134f"
    r"\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
    r"\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
)
# A word's letter or digit is never a CJK character: "，有2000" is 有 and one number, not one word.
_TOKEN = re.compile(rf"[{_CJK_CHAR}]|[^\s{_CJK_CHAR}]*(?:(?![{_CJK_CHAR}])[^\W_])[^\s{_CJK_CHAR}]*")


def word_count(text: str) -> int:
    """CJK characters plus words elsewhere (a word: a space-free run holding a letter or digit)."""
    return len(_TOKEN.findall(text or ""))


def count_label(text: str) -> str:
    """ "123 words", or "456 characters" when most of the count is CJK characters."""
    total = word_count(text)
    cjk = len(re.findall(rf"[{_CJK_CHAR}]", text or ""))
    unit = "characters" if cjk * 2 > total else "words"
    return f"{total} {unit}" if total != 1 else f"1 {unit[:-1]}"
