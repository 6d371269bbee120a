"""The brief, read once: one frozen ``BriefPlan`` that every later step reads instead of the brief.

    plan = plan_brief(brief)        # or brief.plan (built on first use, then kept on the Brief)
    plan.language                   # "zh": ISO 639-1, one of studio.core.languages.LANGUAGES
    plan.kinds                      # ("code",): the picture sources the brief asks for
    plan.sections                   # 8 for "eight sections" / "八个部分" / "8つの章"; None: not asked
    plan.section_word               # "section" | "step" | "item" | "" (what the brief counts)
    plan.images                     # the image count: Brief.wanted_images, else one the text states

Public API (kept stable; other branches build on it): ``BriefPlan`` and its fields ``text``,
``language``, ``kinds``, ``sections``, ``section_word``, ``wanted_images``, ``stated_images``,
``user_images``, ``style``; its properties ``images`` and ``language_name``; ``plan_brief(brief)``
and ``plan_text(text, ...)``; and, for the routing check's classifier, the term lists and
``owner_before``.

Who reads it: the prompt (studio.core.prompts: the language line, the asked pictures), the
grammar's required sources (studio.core.agent -> studio.core.grammar), the routing check (an edit
needs the user's images: studio.core.routing), the stream guards (the brief's own words may be
repeated) and the bench harness (studio.quality.benchmark / honesty). Nothing else parses the
brief's text for rules; the keyword sets for all nine languages live here and in
studio.core.languages.

Picture kinds (each a tool source):
- code: the brief names a chart or graph ("a bar chart", "图表", "グラフ", "Balkendiagramm");
- search: it names a photo (not the user's own: "my photo" is what an edit changes);
- diffusion: an illustration, painting, drawing or concept art;
- edit: the user attached images and the brief asks to change them ("an edited version of my photo",
  "把我的照片改成夜景").
A kind next to a negation ("without photos", "不要图表", "写真なし") is not asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from models.vocab import Source
from studio.core.languages import (
    CJK,
    HAN_NUMERAL,
    WORD,
    Terms,
    detect_language,
    language_name,
    negated,
    normalize,
    number_value,
)

if TYPE_CHECKING:
    from studio.core.agent import Brief

CHART_TERMS = Terms(
    "chart charts graph graphs histogram* infographic* plotted plot_of line_plot "
    "scatter_plot 图表 统计图 柱状图 条形图 饼图 饼状图 折线图 曲线图 直方图 散点图 趋势图 "
    "数据图 圖表 グラフ チャート 図表 ヒストグラム 차트 그래프 도표 히스토그램 *diagramm* "
    "schaubild* histogramm* graphique* diagramme* histogramme* gráfico* gráfica* grafico* "
    "grafica* histograma* диаграмм* график* гистограмм*"
)
PHOTO_TERMS = Terms(
    "photo photos photograph photographs snapshot snapshots 照片 相片 实拍 摄影 写真 フォト "
    "사진 foto fotos fotografie* photographie* fotografía* fotografia* фото фотографи* "
    "снимок снимки снимк*"
)
DRAWN_TERMS = Terms(
    "illustrat* illustrier* illustré* ilustrad* иллюстрир* "
    "painting paintings drawing drawings artwork render rendering cartoon* "
    "watercolo* concept_art concept_image concept_picture 插画 插图 绘画 手绘 概念图 水彩 "
    "漫画 画作 イラスト 挿絵 絵画 コンセプトアート 일러스트 삽화 수채화 zeichnung* gemälde* "
    "aquarell* dessin* peinture* aquarelle* ilustración ilustraciones ilustracion* dibujo* "
    "pintura* acuarela* ilustração ilustrações ilustracao* desenho* aquarela* иллюстрац* "
    "рисунок рисунки рисунк* акварел*"
)
# Asking to change the user's image: a verb that means edit on its own, or a softer one ("change",
# "改成") together with a word pointing at the user's image ("my photo", "attached", "这张").
EDIT_VERBS = Terms(
    "edit edited editing edits edita edite editar edítala retouch* recolo* photoshop* 编辑 修图 p图 編集 加工 レタッチ "
    "편집 보정 bearbeit* retusch* édit* editer éditer retouch* retoc* редактир* отредактир* "
    "отретуш*"
)
CHANGE_VERBS = Terms(
    "change changed modify modified alter altered transform* turn make convert* restyle* "
    "enhance* 修改 改成 改为 变成 換成 换成 处理 変えて 変更 修正 変換 바꿔 바꾸 수정 변경 "
    "변환 änder* veränder* verwandel* modifi* transform* chang* cambi* convier* alter* "
    "измен* преобраз* сделай*"
)
USER_IMAGE = Terms(
    "my our attached uploaded upload 我的 附上 上传 这张 這張 私の 添付 アップロード "
    "この写真 この画像 내_ 첨부 업로드 mein meine meinem meinen unser angehängt* "
    "hochgeladen* ma mon mes notre jointe joint mi mis nuestra adjunt* subid* minha meu "
    "minhas anex* enviad* мою моё мое мой мои наш* прикреплен* загружен*"
)

# What a brief counts: its sections, steps or items, in each language (Latin and Cyrillic words
# follow a number word or digits; CJK nouns follow a numeral and an optional counter).
_COUNTED: dict[str, Terms] = {
    "section": Terms(
        "section* part parts chapter* abschnitt* teil teile teilen kapitel partie* chapitre* "
        "secci* parte partes capítulo* capitulo* seç* seccao* раздел* част* глав*"
    ),
    "step": Terms("step steps stage* schritt* phase* étape* etape* paso pasos etapa* passo* шаг* этап*"),
    "item": Terms(
        "item items point points tip tips reason reasons way ways fact facts punkt* grund "
        "gründe tipp* conseil* raison* consejo* razon* razón* motivo* dica* пункт* совет* "
        "причин* факт*"
    ),
}
_CJK_COUNTED: dict[str, str] = {
    "section": "部分|章节|章節|小节|章|节|節|セクション|パート|部|섹션|부분|파트|챕터|절",
    "step": "步骤|步驟|步|阶段|階段|ステップ|段階|단계",
    "item": "要点|要點|条|項目|项|ポイント|点|方面|理由|항목|가지|포인트|이유",
}
_JA_NUMBERS = dict(
    zip(
        ("ひとつ", "ふたつ", "みっつ", "よっつ", "いつつ", "むっつ", "ななつ", "やっつ", "ここのつ", "とお"),
        range(1, 11),
        strict=True,
    )
)
_KO_NUMBERS = "하나|한|둘|두|셋|세|넷|네|다섯|여섯|일곱|여덟|아홉|열|스무"
_CJK_NUMBER = rf"(\d{{1,2}}|{HAN_NUMERAL}|{'|'.join(_JA_NUMBERS)}|{_KO_NUMBERS})"
_CJK_COUNTER = r"\s*(?:个|個|大|つ|개의|개|가지의)?\s*の?\s*"

# Pictures a brief counts ("three images", "三张图片", "画像を3枚", "사진 3장").
PICTURE_TERMS = Terms(
    "image images picture pictures photo photos foto illustrations charts bild bilder fotos "
    "abbildung* image images illustrations photos imagen imágenes imagenes fotos imagem "
    "imagens изображени* картин* фотографи* фото"
)
_CJK_PICTURES = (
    rf"{_CJK_NUMBER}\s*(?:张|張|幅|个|個|枚|つ|장|개)\s*(?:の)?[^，。,.]{{0,10}}?"
    r"(?:图|圖|画|畫|照片|画像|写真|イラスト|グラフ|사진|이미지|그림)"
    rf"|(?:画像|写真|イラスト|사진|이미지|그림)\s*(?:を|은|는|을|를)?\s*{_CJK_NUMBER}\s*(?:枚|장|개)"
)


@dataclass(frozen=True)
class BriefPlan:
    """What a brief asks for, read once (see the module docstring)."""

    text: str
    language: str = "en"
    kinds: tuple[str, ...] = ()  # sources, in the order code, search, diffusion, edit
    sections: int | None = None
    section_word: str = ""
    wanted_images: int | None = None  # the Brief's: None the model decides, 0 or -1 none, N exactly N
    stated_images: int | None = None  # a count the text states ("three images", "三张图片")
    user_images: int = 0
    style: str = ""
    fiction: bool = False  # a story, fable or fictional product: nothing in it can be photographed

    @property
    def drawn(self) -> bool:
        """Its pictures are drawn, not photographed: it asks for no photo, and for illustrations or
        is fiction (the routing check sends its photo searches to diffusion)."""
        return Source.SEARCH not in self.kinds and (self.fiction or Source.DIFFUSION in self.kinds)

    @property
    def images(self) -> int | None:
        """The image count: the brief's setting, else the one its text states (never fewer than the
        kinds it names); None leaves it to the model. 0 means none."""
        if self.wanted_images is not None:
            return max(0, self.wanted_images)
        if self.stated_images is None:
            return None
        return max(self.stated_images, len(self.kinds))

    @property
    def language_name(self) -> str:
        """'Chinese (中文)', 'English', ... for the prompt."""
        return language_name(self.language)


def plan_brief(brief: Brief) -> BriefPlan:
    """The plan of a ``studio.core.agent.Brief`` (use ``brief.plan``: it is built once per Brief)."""
    return plan_text(
        brief.text, wanted_images=brief.wanted_images, user_images=len(brief.user_images), style=brief.style
    )


def plan_text(text: str, *, wanted_images: int | None = None, user_images: int = 0, style: str = "") -> BriefPlan:
    """The plan of a brief given as plain text (the harness reads its briefs this way)."""
    norm = normalize(text)
    sections, word = _sections(norm)
    return BriefPlan(
        text=text,
        language=detect_language(text),
        kinds=picture_kinds(norm, user_images),
        sections=sections,
        section_word=word,
        wanted_images=wanted_images,
        stated_images=_stated_images(norm),
        user_images=user_images,
        style=style,
        fiction=bool(_asked(norm, FICTION_TERMS)),
    )


def _asked(norm: str, terms: Terms) -> list[int]:
    """Start offsets of the terms' hits that are not negated."""
    return [hit.start for hit in terms.find(norm) if not negated(norm, hit)]


def owner_before(norm: str, start: int, owners: Terms = USER_IMAGE) -> str:
    """The word among the three before ``start`` (or the CJK characters just before it) that makes
    an image word the user's own ("my", "attached", "我的", "私の"), or "". ``norm``: normalized text."""
    before = norm[max(0, start - 40) : start]
    near = " ".join(WORD.findall(before)[-3:]) + " " + before[-6:]
    hits = owners.find(near)
    return near[hits[0].start : hits[0].end] if hits else ""


def _owned(norm: str, start: int) -> bool:
    """A photo word up to three words after "my", "attached", "我的", "私の"...: the user's own image."""
    return bool(owner_before(norm, start))


def picture_kinds(norm: str, user_images: int) -> tuple[str, ...]:
    """The sources a (normalized) brief asks a picture of (see the module docstring)."""
    edit = user_images > 0 and bool(_asked(norm, EDIT_VERBS) or (_asked(norm, CHANGE_VERBS) and USER_IMAGE.find(norm)))
    edit = edit or _edits_its_own_picture(norm)
    photos = [start for start in _asked(norm, PHOTO_TERMS) if not _owned(norm, start)]  # "my photo": no search
    kinds = {
        Source.CODE: bool(_asked(norm, CHART_TERMS)),
        Source.SEARCH: bool(photos),
        Source.DIFFUSION: bool(_asked(norm, DRAWN_TERMS)),
        Source.EDIT: edit,
    }
    return tuple(str(source) for source, asked in kinds.items() if asked)


# What an edit verb may follow to change a picture the article itself makes ("the last scene edited
# to night-time", "a second version of it edited to spring", "the same image edited").
_EDITED_PICTURES = Terms(
    "image picture photo illustration scene scenes version render bild szene version fassung "
    "image scène version imagen escena versión imagem cena versão изображени* сцен* верси*"
)


def _edits_its_own_picture(norm: str) -> bool:
    """An edit verb within three words after a picture word: the brief asks to edit one of the
    article's own pictures (an edit tag after it), whether or not the user attached any."""
    for start in _asked(norm, EDIT_VERBS):
        before = " ".join(WORD.findall(norm[max(0, start - 40) : start])[-3:])
        if _EDITED_PICTURES.find(before):
            return True
    return False


# Fiction: its pictures cannot be photographed, so a web photo search is the wrong tool for them.
FICTION_TERMS = Terms(
    "short_story short_stories children's_story bedtime_story fairy_tale fairy_tales fable fables fictional "
    "fiction imaginary made-up 童话 寓言 虚构 架空 童話 物語 동화 우화 가상의 märchen fabel fiktiv* erfunden* "
    "conte fable fictif* fictive* imaginaire* cuento fábula ficticio* ficticia* imaginari* conto fictício* "
    "fictícia* сказк* басн* вымышлен*"
)


def _number_before(norm: str, start: int) -> int | None:
    """The count among the (at most two) words before ``start``: "eight sections", "8 short steps"."""
    words = [w for w in WORD.findall(norm[max(0, start - 40) : start]) if not CJK.search(w)][-2:]
    for word in reversed(words):
        value = number_value(word)
        if value is not None:
            return value
    return None


def _sections(norm: str) -> tuple[int | None, str]:
    """(how many sections / steps / items the brief asks for, which of them); (None, "") when none."""
    found: list[tuple[int, int, str]] = []  # (offset, count, word)
    for word, terms in _COUNTED.items():
        for hit in terms.find(norm):
            count = _number_before(norm, hit.start)
            if count is not None:
                found.append((hit.start, count, word))
        for m in re.finditer(rf"{_CJK_NUMBER}{_CJK_COUNTER}(?:{_CJK_COUNTED[word]})", norm):
            count = _cjk_number(m.group(1))
            if count is not None:
                found.append((m.start(), count, word))
    found = [f for f in found if f[1] >= 2]  # "one section" is no structure to keep
    if not found:
        return None, ""
    _, count, word = min(found)  # the first the brief names ("8 sections of 3 paragraphs": sections)
    return count, word


def _cjk_number(token: str) -> int | None:
    return _JA_NUMBERS.get(token) or number_value(token)


# "une photo", "ein Bild": an article, not a count (as "a photo" is none in English)
_ARTICLES = frozenset(("ein", "eine", "einen", "einem", "un", "une", "una", "uno", "um", "uma"))


def _stated_images(norm: str) -> int | None:
    """The number of pictures the text asks for, summed over its counted mentions; None if none."""
    counts = []
    for hit in PICTURE_TERMS.find(norm):
        before = WORD.findall(norm[max(0, hit.start - 40) : hit.start])[-1:]
        count = _number_before(norm, hit.start)
        if count is not None and not (count == 1 and before and before[0] in _ARTICLES):
            counts.append(count)
    for m in re.finditer(_CJK_PICTURES, norm):
        value = _cjk_number(next(g for g in m.groups() if g))
        if value is not None:
            counts.append(value)
    return min(sum(counts), 20) if counts else None
