"""What kind of picture a tag's description asks for, in the studio's nine languages.

    verdict = classify("Sales by brand in a bar chart")   # Verdict(kind="code", score=5, ...)
    verdict = classify("Bees at work")                     # None: ambiguous, nothing to route

A small weighted-keyword classifier (no model: it runs on every tag, offline). Each kind has cue
words in every language, weighted 3 (names the kind: "bar chart", "照片", "Illustration"),
2 (points at it: "vs", "推移", "my photo") or 1 (hints: a measure such as "sales", "the future",
a named thing). A description gets a kind only when that kind scores 3 or more and leads the
next by 2 or more; anything closer is ambiguous and the routing check leaves it alone.

Kinds are tool sources:
- code: a chart, plot, graph or diagram of data (or a description that states the data);
- search: a photo of a real, named thing;
- diffusion: an illustration, an imagined scene, a concept;
- edit: a change to an earlier or uploaded image ("my photo with blue walls", "把我的照片改成夜景").

Accuracy is measured on tests/data/picture_descriptions.jsonl (all nine languages, ambiguous
descriptions included): ``python bench/picture_kinds_accuracy.py``; the figures are in the README.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.vocab import Source
from studio.core.brief_plan import CHART_TERMS, DRAWN_TERMS, PHOTO_TERMS, USER_IMAGE, owner_before
from studio.core.chart_checks import described_data, photo_request
from studio.core.languages import Terms, negated, normalize

DECIDE_SCORE = 3  # a kind needs this much evidence ...
DECIDE_MARGIN = 2  # ... and this lead over the next kind, else the description is ambiguous
WEAK_CAP = 2  # hints add up to this much at most (a caption full of measures is still no chart)

_CUES: list[tuple[str, int, Terms]] = [
    (Source.CODE, 3, CHART_TERMS),
    (Source.CODE, 3, Terms("plot plots diagram diagrams bar_chart pie_chart 图 グラフ 그래프 막대 원형 도표")),
    (
        Source.CODE,
        2,
        Terms(
            "vs vs. versus compared_to over_time per_year by_year trend trends 对比 比较 趋势 推移 比較 비교 따른 추이 "
            "연도별 年別 按年 im_vergleich vergleich verlauf en_fonction_de évolution evolution comparaison "
            "frente_a frente_al evolución comparación evolução comparação в_зависимости_от по_сравнению динамик*"
        ),
    ),
    (
        Source.CODE,
        1,
        Terms(
            "sales revenue production population growth share percentage rate time size statistics data "
            "distribution prices 产量 出口量 人口 比例 数据 统计 分布 时间 规模 売上 割合 データ 統計 매출 생산량 인구 "
            "비율 데이터 통계 시간 크기 umsätze umsatz anteil laufzeit daten statistik verteilung ventes "
            "population données statistiques répartition taux temps taille ventas producción población "
            "datos estadísticas distribución tiempo tamaño vendas produção população dados estatísticas "
            "distribuição tempo tamanho продаж* численност* населени* данны* статистик* распределени* доля "
            "время размер*"
        ),
    ),
    (Source.SEARCH, 3, PHOTO_TERMS),
    (
        Source.SEARCH,
        2,
        Terms("real actual 实拍 真实 実写 실제 echte echten réelle réel real reales verdadeira настоящ*"),
    ),
    (Source.DIFFUSION, 3, DRAWN_TERMS),
    (
        Source.DIFFUSION,
        3,
        Terms(
            "concept* imagin* fantasy futuristic surreal 概念 想象 想像 幻想 奇幻 コンセプト ファンタジー "
            "水彩画 컨셉 상상 "
            "판타지 konzept* erdacht* fantasie futuristisch* conceptuel* imaginaire* conceptual imaginari* "
            "conceitual imaginári* концепт* воображаем* фантаст*"
        ),
    ),
    (
        Source.DIFFUSION,
        1,
        Terms("future scene 未来 场景 シーン 장면 미래 zukunft szene futur scène futuro escena cena будущ* сцен*"),
    ),
    (
        Source.EDIT,
        3,
        Terms(
            "edited edit retouched retouch* recolo* 编辑 修图 编辑后 加工 編集 レタッチ 편집 보정 bearbeit* retusch* "
            "retouchée retouché modifiée editada editado modificada отредактир* отретуш*"
        ),
    ),
    (
        Source.EDIT,
        1,
        Terms(
            "turned_into changed 改成 变成 換成 换成 変更 変え 바꾼 바뀐 verändert umgewandelt transformée "
            "transformé convertida transformada превращённ* превращенн* изменённ* измененн*"
        ),
    ),
]
# An image word right after one of these is the user's own image: a change to it is an edit.
_USER_WORDS = Terms(
    "uploaded attached 上传的 上傳的 添付した 添付 첨부한 업로드한 hochgeladene envoyée subida enviada загруженн*"
)
_IMAGE_WORDS = Terms(
    "photo image picture 照片 图片 写真 画像 사진 이미지 foto bild fotografie imagen imagem фото изображени*"
)
_OWNERS = Terms(*USER_IMAGE.terms_text, *_USER_WORDS.terms_text)
_NAMED = re.compile(r"(?<=\w )(?:[A-Z][\w'-]+)")  # a capitalised word after the first: a named thing

KIND_WORDS: dict[str, str] = {
    Source.CODE: "a chart",
    Source.SEARCH: "a photo of a real thing",
    Source.DIFFUSION: "an illustration",
    Source.EDIT: "a change to an earlier image",
}


@dataclass(frozen=True)
class Verdict:
    """A description's kind (a source), its score, and the cue words that decided it."""

    kind: str
    score: int
    cues: tuple[str, ...]
    scores: tuple[tuple[str, int], ...]

    @property
    def reason(self) -> str:
        return f"the description asks for {KIND_WORDS[self.kind]} ({', '.join(self.cues[:3])})"


def scores(description: str) -> dict[str, tuple[int, list[str]]]:
    """Per kind: its score and the cue words found (see the module docstring)."""
    norm = normalize(description)
    found: dict[str, tuple[int, list[str]]] = {str(s): (0, []) for s in Source}
    weak: dict[str, int] = {}
    owned_photo = _owned_image(norm)
    for kind, weight, terms in _CUES:
        for hit in terms.find(norm):
            if negated(norm, hit) or (kind == Source.SEARCH and weight == 3 and owned_photo):
                continue
            cue = norm[hit.start : hit.end]
            if weight == 1:
                if weak.get(kind, 0) >= WEAK_CAP:
                    continue
                weak[kind] = weak.get(kind, 0) + 1
            score, cues = found[kind]
            found[kind] = (score + weight, [*cues, cue])
    if owned_photo:
        score, cues = found[Source.EDIT]
        found[Source.EDIT] = (score + 2, [*cues, owned_photo])
    if described_data(description):
        score, cues = found[Source.CODE]
        found[Source.CODE] = (score + 3, [*cues, "states its data"])
    if _NAMED.search(description):
        score, cues = found[Source.SEARCH]
        found[Source.SEARCH] = (score + 1, [*cues, "a named thing"])
    return found


def _owned_image(norm: str) -> str:
    """The words naming the user's own image ("my photo", "das hochgeladene Bild"), or "": the
    plan's rule (an owner word among the three before the image word), or an upload word after it."""
    for hit in _IMAGE_WORDS.find(norm):
        owner = owner_before(norm, hit.start, _OWNERS)
        if owner:
            return f"{owner} {norm[hit.start : hit.end]}"
        after = norm[hit.end : hit.end + 12]  # "l'image envoyée", "la imagen subida"
        owners = _USER_WORDS.find(after)
        if owners:
            return norm[hit.start : hit.end + owners[0].end]
    return ""


def classify(description: str) -> Verdict | None:
    """The kind the description asks for, or None when it is ambiguous (see the module docstring)."""
    found = scores(description)
    ranked = sorted(found.items(), key=lambda item: item[1][0], reverse=True)
    (kind, (best, cues)), (_, (second, _)) = ranked[0], ranked[1]
    if best < DECIDE_SCORE or best - second < DECIDE_MARGIN:
        return None
    table = tuple((k, s) for k, (s, _) in ranked)
    return Verdict(kind, best, tuple(dict.fromkeys(cues)), table)


def not_a_chart(description: str) -> bool:
    """Does the description ask for a photo, an illustration or an edit rather than a chart, in any
    of the nine languages? (chart_checks.photo_request's English words, or a clear other kind.)
    The chart writer refuses such a request; the harness counts a chart drawn for one as faked."""
    if photo_request(description):
        return True
    verdict = classify(description)
    return verdict is not None and verdict.kind != Source.CODE
