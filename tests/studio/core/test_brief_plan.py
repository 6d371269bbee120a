"""The brief plan: language, picture kinds, sections and image count, per language."""

from __future__ import annotations

import pytest

from studio.core.agent import Brief
from studio.core.brief_plan import BriefPlan, plan_brief, plan_text
from studio.core.languages import detect_language, han_number, number_value

# (language, brief, kinds, sections, stated images)
CASES = [
    ("en", "Sales by brand in a bar chart, in eight sections", ("code",), 8, None),
    ("en", "A history of Rome in six parts with three images", (), 6, 3),
    ("en", "A guide to bees without photos, five steps", (), 5, None),
    ("zh", "写一篇关于中国茶的文章，附一张各类茶叶产量的图表，分为八个部分", ("code",), 8, 1),
    ("zh", "介绍京都的文章，配三张金阁寺的照片，五个步骤", ("search",), 5, 3),
    ("zh", "一篇关于未来城市的文章，要一幅插画，不要图表", ("diffusion",), None, 1),
    ("ja", "茶道について5つのセクションで書いてください。グラフを1つ入れてください。", ("code",), 5, None),
    ("ja", "京都の旅行ガイド、金閣寺の写真を3枚、三つの章で", ("search",), 3, 3),
    ("ja", "未来の都市のイラストを入れた記事。写真なし。", ("diffusion",), None, None),
    ("ko", "한국 음식에 대한 글, 다섯 단계로, 사진 3장", ("search",), 5, 3),
    ("ko", "커피 생산량 차트가 있는 기사를 6개 섹션으로 써 주세요", ("code",), 6, None),
    ("de", "Schreibe einen Artikel über Bienen mit einem Balkendiagramm in acht Abschnitten", ("code",), 8, None),
    ("de", "Ein kurzer Artikel über Berlin mit drei Fotos, ohne Diagramm", ("search",), None, 3),
    ("fr", "Écris un article sur le vin avec une photo de Bordeaux, en cinq parties", ("search",), 5, None),
    ("fr", "Un article sur la ville future avec une illustration et un graphique", ("code", "diffusion"), None, None),
    ("es", "Escribe un artículo sobre el café con una ilustración y seis secciones", ("diffusion",), 6, None),
    ("es", "Un artículo sobre las ventas por marca con un gráfico de barras", ("code",), None, None),
    ("pt", "Escreva um artigo sobre a história do Brasil com uma ilustração em seis seções", ("diffusion",), 6, None),
    ("pt", "Um artigo sobre o café com duas fotos e um gráfico da produção", ("code", "search"), None, 2),
    ("ru", "Напиши статью о чае с диаграммой, восемь разделов", ("code",), 8, None),
    ("ru", "Статья о Москве с тремя фотографиями, без иллюстраций", ("search",), None, None),
]  # fmt: skip


@pytest.mark.parametrize(("language", "text", "kinds", "sections", "images"), CASES)
def test_the_plan_reads_each_language(
    language: str, text: str, kinds: tuple[str, ...], sections: int | None, images: int | None
) -> None:
    plan = plan_text(text)
    assert plan.language == language
    assert plan.kinds == kinds
    assert plan.sections == sections
    assert plan.stated_images == images


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("An edited version of my photo, at night", "en"),
        ("把我的照片改成夜景", "zh"),
        ("添付した写真を夜の風景に編集してください", "ja"),
        ("첨부한 사진을 밤 풍경으로 편집해 주세요", "ko"),
        ("Bearbeite mein Foto: der Himmel soll blau sein", "de"),
        ("Modifie ma photo pour qu'elle soit en noir et blanc", "fr"),
        ("Edita mi foto para que parezca de noche", "es"),
        ("Altere a minha foto para parecer noite", "pt"),
        ("Отредактируй моё фото, чтобы была ночь", "ru"),
    ],
)
def test_a_request_to_change_the_users_image_is_an_edit_in_every_language(text: str, language: str) -> None:
    plan = plan_text(text, user_images=1)
    assert plan.language == language
    assert plan.kinds == ("edit",)  # "my photo" is the image to change, not a photo to search
    assert "edit" not in plan_text(text).kinds  # nothing attached: nothing to edit


def test_a_photo_the_brief_asks_for_is_still_a_search_when_images_are_attached() -> None:
    plan = plan_text("Edit my photo and add a photo of the Eiffel Tower", user_images=1)
    assert plan.kinds == ("search", "edit")
    assert plan_text("Here is my photo; write about my trip to Rome", user_images=1).kinds == ()


def test_the_image_count_is_the_briefs_setting_else_the_one_the_text_states() -> None:
    assert plan_text("Kyoto in three photos").images == 3
    assert plan_text("Kyoto in three photos", wanted_images=2).images == 2
    assert plan_text("Kyoto in three photos", wanted_images=-1).images == 0
    assert plan_text("Kyoto").images is None
    # never fewer than the kinds it names: one counted photo and a chart make two
    assert plan_text("Un artículo con 1 foto y un gráfico").images == 2


def test_numbers_in_words_and_numerals() -> None:
    assert [number_value(w) for w in ("8", "eight", "acht", "huit", "ocho", "oito", "восемь", "여덟")] == [8] * 8
    assert [han_number(n) for n in ("八", "十", "十二", "二十", "二十五", "两")] == [8, 10, 12, 20, 25, 2]
    assert han_number("茶") is None and number_value("2024") is None  # a year is no count
    assert plan_text("A history in 12 chapters").sections == 12
    assert plan_text("写一篇十二个章节的历史").sections == 12
    assert plan_text("A guide in one section").sections is None  # one section is no structure


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Write a short article about bees", "en"),
        ("写一篇关于蜜蜂的短文", "zh"),
        ("ミツバチについての短い記事を書いてください", "ja"),
        ("꿀벌에 관한 짧은 글을 써 주세요", "ko"),
        ("Schreibe einen kurzen Artikel über Bienen", "de"),
        ("Écris un court article sur les abeilles", "fr"),
        ("Escribe un artículo corto sobre las abejas", "es"),
        ("Escreva um artigo curto sobre as abelhas", "pt"),
        ("Напиши короткую статью о пчёлах", "ru"),
        ("写一篇关于 iPhone 和 Samsung 的文章", "zh"),  # brand names do not make it English
        ("", "en"),
    ],
)
def test_language_detection(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_a_brief_is_planned_once() -> None:
    brief = Brief("Un artículo con un gráfico", wanted_images=2, user_images=(b"x",), style="calm")
    assert brief.plan is brief.plan  # built on first use, then kept
    assert brief.plan == plan_brief(brief)
    assert isinstance(brief.plan, BriefPlan)
    assert (brief.plan.language, brief.plan.user_images, brief.plan.style) == ("es", 1, "calm")
    assert brief.plan.language_name == "Spanish (Español)"


def test_negations_in_each_language_and_portuguese_no() -> None:
    negated = [
        "Bees, with no photos", "蜜蜂，不要照片", "ミツバチ、写真なし", "꿀벌, 사진 없이", "Bienen ohne Fotos",
        "Les abeilles, sans photos", "Las abejas, sin fotos", "As abelhas, sem fotos", "Пчёлы без фото",
    ]  # fmt: skip
    for text in negated:
        assert "search" not in plan_text(text).kinds, text
    assert plan_text("Um artigo sobre o café com os dados no gráfico").kinds == ("code",)  # "no": in the


def test_an_illustrated_story_that_edits_its_own_scene_asks_for_diffusion_and_edit() -> None:
    story = plan_text(
        "A short story about a lighthouse keeper, illustrated with three scenes; then the last scene edited"
    )
    assert story.kinds == ("diffusion", "edit") and story.fiction and story.drawn
    fox = plan_text("A fable about a fox, with one illustration and a second version of it edited to spring.")
    assert fox.kinds == ("diffusion", "edit") and fox.fiction
    # a brief about editing, with no picture of its own to edit, asks for no edit tag
    assert "edit" not in plan_text("A tutorial on how to edit photos on a phone, with a chart of app prices").kinds
    kettle = plan_text("A launch announcement for a fictional smart kettle, with a product image")
    assert kettle.fiction and kettle.drawn and kettle.kinds == ()
    history = plan_text("Schreibe über die Geschichte der Eisenbahn, mit einem Foto einer Dampflok")
    assert not history.fiction and not history.drawn  # a history is no story; it asks for a photo
    assert not plan_text("A report on bees, with an illustration and a photo of a hive").drawn
