"""The routing check's classifier, per language, and its measured accuracy on the labelled sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.core.picture_kinds import classify

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.mark.parametrize(
    ("description", "kind"),
    [
        ("Sales by brand in a bar chart", "code"),
        ("Running time of bubble sort vs input size", "code"),
        ("Photo of the Eiffel Tower at sunset", "search"),
        ("A concept image of a future city car", "diffusion"),
        ("An edited version of my photo with the lights on", "edit"),
        ("各类茶叶产量的柱状图", "code"),
        ("金阁寺的照片", "search"),
        ("未来城市汽车的概念图", "diffusion"),
        ("把我的照片改成夜景", "edit"),
        ("ブランド別売上の棒グラフ", "code"),
        ("金閣寺の写真", "search"),
        ("未来の都市のコンセプトイラスト", "diffusion"),
        ("브랜드별 매출 막대 그래프", "code"),
        ("경복궁 사진", "search"),
        ("미래 도시 자동차 컨셉 일러스트", "diffusion"),
        ("Balkendiagramm der Umsätze nach Marke", "code"),
        ("Foto des Brandenburger Tors", "search"),
        ("Konzeptbild eines Stadtautos der Zukunft", "diffusion"),
        ("Graphique en barres des ventes par marque", "code"),
        ("Photo de la tour Eiffel", "search"),
        ("Illustration à l'aquarelle d'un dragon", "diffusion"),
        ("Gráfico de barras de ventas por marca", "code"),
        ("Foto de la Sagrada Familia", "search"),
        ("Ilustración en acuarela de un dragón", "diffusion"),
        ("Gráfico de barras das vendas por marca", "code"),
        ("Foto do Cristo Redentor", "search"),
        ("Imagem conceitual de um carro do futuro", "diffusion"),
        ("Столбчатая диаграмма продаж по брендам", "code"),
        ("Фото Кремля на закате", "search"),
        ("Акварельная иллюстрация дракона", "diffusion"),
    ],
)
def test_each_language_gets_its_kind(description: str, kind: str) -> None:
    verdict = classify(description)
    assert verdict is not None and verdict.kind == kind, verdict


@pytest.mark.parametrize(
    "description",
    ["Bees at work", "茶园的早晨", "朝の茶畑", "일하는 꿀벌들", "Der alte Hafen am Morgen", "Старый порт утром"],
)
def test_an_ambiguous_description_gets_no_kind(description: str) -> None:
    assert classify(description) is None


def test_a_negated_cue_does_not_count_and_the_verdict_says_why() -> None:
    verdict = classify("A bar chart of sales: Acme 40, Globex 25")
    assert verdict is not None and verdict.kind == "code"
    assert "chart" in verdict.reason and "states its data" in verdict.cues
    assert classify("A scene without any photo") is None


def accuracy(name: str) -> tuple[dict[str, float], list[tuple[str, str, str]]]:
    per: dict[str, list[int]] = {}
    wrong = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        verdict = classify(row["description"])
        got = verdict.kind if verdict else "none"
        hits = per.setdefault(row["lang"], [0, 0])
        hits[0] += got == row["kind"]
        hits[1] += 1
        if got != row["kind"]:
            wrong.append((row["description"], row["kind"], got))
    return {lang: c / t for lang, (c, t) in per.items()}, wrong


def test_accuracy_on_the_labelled_sets_in_all_nine_languages() -> None:
    # The development set (the cue words were tuned on it: 95.5% before tuning) and a held-out set
    # written afterwards, its cue words never tuned on (85.2% untouched; one fix of the owner rule
    # since, 87.0%). bench/picture_kinds_accuracy.py prints both per language.
    dev, _ = accuracy("picture_descriptions.jsonl")
    held, wrong = accuracy("picture_descriptions_heldout.jsonl")
    assert set(dev) == set(held) == {"en", "zh", "ja", "ko", "de", "fr", "es", "pt", "ru"}
    assert min(dev.values()) >= 0.9
    assert sum(held.values()) / len(held) >= 0.8
    # a miss on the held-out set is "ambiguous" (nothing is routed), never a wrong tool
    assert all(got == "none" for _, _, got in wrong), wrong
