"""The studio's nine languages: detection, number words and multilingual term matching.

Shared by the brief plan (studio.core.brief_plan) and the picture-kind classifier
(studio.core.picture_kinds); nothing here reads a brief on its own.

- ``detect_language``: script first (Hangul: ko, kana: ja, Han: zh, Cyrillic: ru), then, for Latin
  text, small stopword sets (en, de, fr, es, pt) plus a few letters only one of them uses (ß, ñ,
  ã/õ, ç). No model, no download: the studio runs offline.
- ``number_value``: digits and number words (one..twenty in each language, Chinese/Japanese numerals
  up to 99, Korean native numbers; Sino-Korean ones are written as digits in practice).
- ``Terms``: keyword lists where ``word`` matches a whole word, ``stem*`` a word's start,
  ``*part*`` a word's inside (German compounds: Balkendiagramm) and a CJK term any substring.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# code -> (English name, the language's own name): the prompt names both.
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("English", "English"),
    "zh": ("Chinese", "中文"),
    "ja": ("Japanese", "日本語"),
    "ko": ("Korean", "한국어"),
    "de": ("German", "Deutsch"),
    "fr": ("French", "Français"),
    "es": ("Spanish", "Español"),
    "pt": ("Portuguese", "Português"),
    "ru": ("Russian", "Русский"),
}
DEFAULT_LANGUAGE = "en"

_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def words(text: str) -> list[str]:
    """The whitespace-separated terms of ``text`` ("_" stands for a space inside a phrase)."""
    return [word.replace("_", " ") for word in text.split()]


CJK = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\uff66-\uff9f]")
WORD = re.compile(r"[^\W\d_]+|\d+")

# Short, frequent words of each Latin-script language (no word shared by two of the lists counts).
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        words(
            "the and of with about for on in to is are an write article how what why its "
            "their this that from by a short guide history three four five into include"
        )
    ),
    "de": frozenset(
        words(
            "der die das und mit über ein eine einen einem ist sind für auf zu den dem des "
            "von wie im zum zur schreibe schreib artikel kurzen kurze geschichte nicht auch"
        )
    ),
    "fr": frozenset(
        words(
            "le la les et des une du avec pour sur est sont au aux dans qui que écris écrivez "
            "article ce cette comment histoire courte court un"
        )
    ),
    "es": frozenset(
        words(
            "el los las y del una con para sobre es son en que por al escribe escribir "
            "artículo este esta cómo historia corto breve un mi tu su sus lo más muy también pero hay"
        )
    ),
    "pt": frozenset(
        words(
            "o os as e do da dos das uma com para sobre é são em que por ao escreva escrever "
            "artigo este esta como história curto breve um não na no a minha meu sua seu mais muito também"
        )
    ),
}
# shared between lists above: they say nothing (e.g. "que", "para", "un", "article")
_SHARED = {w for a in _STOPWORDS for b in _STOPWORDS if a < b for w in _STOPWORDS[a] & _STOPWORDS[b]}
_LETTERS: dict[str, str] = {"de": "äöüß", "fr": "èêëàâçœù", "es": "ñ¿¡", "pt": "ãõ"}


def normalize(text: str) -> str:
    """NFKC and case-folded: what every matcher compares."""
    return unicodedata.normalize("NFKC", text or "").casefold().replace("ß", "ss").replace("ẞ", "ss")


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the text's language among LANGUAGES (DEFAULT_LANGUAGE when unsure)."""
    text = unicodedata.normalize("NFKC", text or "")
    hangul, kana, han = len(_HANGUL.findall(text)), len(_KANA.findall(text)), len(_HAN.findall(text))
    latin_words = [w for w in WORD.findall(_CJK_FREE.sub(" ", text)) if not w.isdigit()]
    cyrillic = sum(1 for w in latin_words if _CYRILLIC.search(w))
    cjk = hangul + kana + han
    # A CJK character is about half a word: a Chinese brief naming an English brand is still Chinese.
    if cjk and cjk >= len(latin_words):
        if hangul * 2 >= cjk:
            return "ko"
        if kana and kana * 10 >= kana + han:
            return "ja"
        return "zh"
    if cyrillic and cyrillic * 2 >= len(latin_words):
        return "ru"
    lower = text.casefold()
    words = [w.casefold() for w in latin_words]
    scores = {lang: sum(1 for w in words if w in stop and w not in _SHARED) for lang, stop in _STOPWORDS.items()}
    for lang, letters in _LETTERS.items():
        scores[lang] += sum(lower.count(ch) for ch in letters)
    scores["pt"] += 2 * lower.count("ção") + 2 * lower.count("ções")
    best = max(scores, key=lambda lang: (scores[lang], lang == DEFAULT_LANGUAGE))
    return best if scores[best] > 0 else DEFAULT_LANGUAGE


_CJK_FREE = re.compile(CJK.pattern + "+")


def language_name(code: str) -> str:
    """'Chinese (中文)' for 'zh'; English alone for 'en'."""
    english, native = LANGUAGES.get(code, LANGUAGES[DEFAULT_LANGUAGE])
    return english if english == native else f"{english} ({native})"


# --- numbers -------------------------------------------------------------------------------------
_NUMBER_WORDS: dict[str, int] = {}
for _words in (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty",
    "ein zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn fünfzehn sechzehn "
    "siebzehn achtzehn neunzehn zwanzig",
    "un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize dix-sept "
    "dix-huit dix-neuf vingt",
    "uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciséis "
    "diecisiete dieciocho diecinueve veinte",
    "um dois três quatro cinco seis sete oito nove dez onze doze treze catorze quinze dezesseis "
    "dezessete dezoito dezenove vinte",
    "один два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать тринадцать "
    "четырнадцать пятнадцать шестнадцать семнадцать восемнадцать девятнадцать двадцать",
):
    for _n, _w in enumerate(_words.split(), start=1):
        _NUMBER_WORDS.setdefault(normalize(_w), _n)
_NUMBER_WORDS.update(
    {
        normalize(w): n
        for w, n in {
            "single": 1, "couple": 2, "dozen": 12, "eine": 1, "einen": 1, "zwei": 2,
            "une": 1, "una": 1, "uma": 1, "duas": 2, "одна": 1, "одну": 1, "две": 2, "трёх": 3, "трех": 3,
            "четырёх": 4, "четырех": 4, "пяти": 5, "шести": 6, "семи": 7, "восьми": 8, "девяти": 9, "десяти": 10,
            # Korean native numbers, and their forms before a counter (Sino-Korean ones come as digits)
            "하나": 1, "한": 1, "둘": 2, "두": 2, "셋": 3, "세": 3, "넷": 4, "네": 4, "다섯": 5, "여섯": 6,
            "일곱": 7, "여덟": 8, "아홉": 9, "열": 10, "스무": 20, "스물": 20,
        }.items()
    }
)  # fmt: skip
_HAN_DIGITS = dict(
    zip(
        "零〇一二两兩三四五六七八九壹贰叁肆伍陆柒捌玖",
        (0, 0, 1, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9),
        strict=True,
    )
)
HAN_NUMERAL = "[零〇一二两兩三四五六七八九十壹贰叁肆伍陆柒捌玖拾]{1,3}"
MAX_COUNT = 99


def han_number(numeral: str) -> int | None:
    """一 .. 九十九 (十二, 二十, 二十五, 两) as an int; None when it is not one."""
    numeral = numeral.replace("拾", "十")
    if not numeral or any(ch not in _HAN_DIGITS and ch != "十" for ch in numeral):
        return None
    if "十" not in numeral:
        return _HAN_DIGITS[numeral] if len(numeral) == 1 else None
    tens, _, ones = numeral.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return (_HAN_DIGITS[tens] if tens else 1) * 10 + (_HAN_DIGITS[ones] if ones else 0)


def number_value(token: str) -> int | None:
    """A count written as digits, a number word of one of the languages, a Han or Korean numeral."""
    token = normalize(token).strip()
    if token.isdigit():
        value = int(token)
        return value if 0 < value <= MAX_COUNT else None
    if token in _NUMBER_WORDS:
        return _NUMBER_WORDS[token]
    return han_number(token)


# --- term matching -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hit:
    """Where a term was found in the normalized text (character offsets) and which term it was."""

    start: int
    end: int
    term: str


class Terms:
    """A keyword list for several languages (see the module docstring for the pattern forms)."""

    def __init__(self, *texts: str) -> None:
        """Each text: terms separated by whitespace ("_" for a space inside a phrase: "plot_of")."""
        self.terms = tuple(dict.fromkeys(normalize(t) for text in texts for t in words(text)))
        self.terms_text = tuple(t.replace(" ", "_") for t in self.terms)  # to build a Terms of several
        self._cjk = [t for t in self.terms if CJK.search(t)]
        self._exact = {t for t in self.terms if not CJK.search(t) and "*" not in t and " " not in t}
        self._phrases = [t for t in self.terms if " " in t and not CJK.search(t)]
        self._prefix = tuple(t[:-1] for t in self.terms if t.endswith("*") and not t.startswith("*"))
        self._infix = tuple(t.strip("*") for t in self.terms if t.startswith("*"))

    def find(self, text: str) -> list[Hit]:
        """Every hit in ``normalize(text)``, in order."""
        norm = normalize(text)
        hits = [Hit(m.start(), m.end(), t) for t in self._cjk for m in re.finditer(re.escape(t), norm)]
        for phrase in self._phrases:
            hits += [Hit(m.start(), m.end(), phrase) for m in re.finditer(rf"\b{re.escape(phrase)}\b", norm)]
        for m in WORD.finditer(norm):
            word = m.group(0)
            if CJK.search(word):
                continue
            if (
                word in self._exact
                or (word.startswith(self._prefix) if self._prefix else False)
                or any(part in word for part in self._infix)
            ):
                hits.append(Hit(m.start(), m.end(), word))
        return sorted(hits, key=lambda h: h.start)


NEGATIONS = Terms(
    "no not without never none kein keine keinen keinem ohne nicht sans pas aucun aucune "
    "sin ningún ninguna nada sem nenhum nenhuma não без не нет"
)
# CJK negations: before the noun (不要图表, 无需图片) or after it (写真なし, 사진 없이).
_NEGATION_BEFORE = re.compile(r"(?:不要|不用|不需要|无需|無需|没有|沒有|无|無|别|不)\s*$")
_NEGATION_AFTER = re.compile(
    r"^\s*(?:は|を|も)?\s*(?:なし|無し|不要|いらない|要らない|なしで|없이|없는|없고|필요\s*없)"
)


def negated(norm: str, hit: Hit) -> bool:
    """Does a negation word stand among the two words before the hit (or a CJK one next to it)?"""
    before = norm[max(0, hit.start - 30) : hit.start]
    near = [w for w in WORD.findall(before) if not CJK.search(w)][-2:]
    negations = [w for w in near if NEGATIONS.find(w)]
    if negations == ["no"] and detect_language(norm) == "pt":
        negations = []  # Portuguese "no" is "in the" ("no gráfico": in the chart)
    if negations and not CJK.search(before[-3:]):
        return True
    return bool(_NEGATION_BEFORE.search(before[-4:]) or _NEGATION_AFTER.search(norm[hit.end : hit.end + 8]))
