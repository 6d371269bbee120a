"""Word counts in the studio's nine languages: words where words are spaced, characters in
Chinese, Japanese and Korean (the status line says which)."""

from __future__ import annotations

import pytest

from studio.core.words import count_label, word_count


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Bees make honey from nectar.", "5 words"),
        ("Die Bienen machen Honig aus Nektar.", "6 words"),
        ("Les abeilles font du miel avec le nectar, c'est l'été.", "10 words"),
        ("Las abejas hacen miel con el néctar.", "7 words"),
        ("As abelhas fazem mel com o néctar.", "7 words"),
        ("Пчёлы делают мёд из нектара.", "5 words"),
        ("蜜蜂用花蜜酿蜂蜜。", "8 characters"),  # 8 Han characters; the full stop is no character of text
        ("ミツバチは花の蜜から蜂蜜を作る。", "15 characters"),
        ("꿀벌은 꽃꿀로 꿀을 만든다.", "11 characters"),
        ("茶文化是中国文化的重要组成部分，有2000多年历史。", "21 characters"),  # 20 Han characters and one number
    ],
)
def test_counts_in_each_language(text: str, label: str) -> None:
    assert count_label(text) == label
    assert word_count(text) == int(label.split()[0])
