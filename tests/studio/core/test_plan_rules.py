"""The brief plan drives the prompt and the grammar: required pictures in every language (a chart
named in Chinese gets a code tag; a change to the user's photo gets an edit tag), the stated count,
and the language line."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from models.base import ChatBackend
from studio.core.agent import Brief, WriterLimits, build_messages, chat_options
from studio.core.engine import Engine
from tools.params import SOURCES


@dataclass
class Wiring:
    """The writer's view of a wired studio (studio.core.agent.WriterServices) for a small local
    model: grammar on, two-phase code; nothing here is asked to write."""

    limits: WriterLimits = field(default_factory=WriterLimits)
    uses_grammar: bool = True
    two_phase_code: bool = True

    @property
    def backend(self) -> ChatBackend:
        raise AssertionError("no model is asked in these tests")

    def available_sources(self) -> list[str]:
        return list(SOURCES)

    def off_reasons_by_source(self) -> dict[str, str | None]:
        return dict.fromkeys(SOURCES)

    def engine(self, *, style: str = "", plan: object = None) -> Engine:
        raise AssertionError("no engine in these tests")


def required_state(brief: Brief) -> str:
    """The grammar's start state: seq0-<first letters of the sources still required>."""
    grammar = chat_options(brief, Wiring()).grammar
    assert grammar is not None
    return next(line for line in grammar.splitlines() if line.startswith("root ::= ")).split()[-1]


@pytest.mark.parametrize(
    "text",
    [
        "A report on tea with a chart of production by kind",
        "写一篇关于中国茶的文章，附一张各类茶叶产量的图表",
        "お茶の種類別生産量のグラフを入れた記事",
        "차 종류별 생산량 차트가 있는 글",
        "Ein Artikel über Tee mit einem Diagramm der Produktion",
        "Un article sur le thé avec un graphique de la production",
        "Un artículo sobre el té con un gráfico de la producción",
        "Um artigo sobre o chá com um gráfico da produção",
        "Статья о чае с диаграммой производства",
    ],
)
def test_a_chart_named_in_any_language_requires_a_code_tag(text: str) -> None:
    brief = Brief(text)
    assert required_state(brief) == "seq0-c"
    assert "with a `code` tag" in build_messages(brief, Wiring())[1]["content"]


@pytest.mark.parametrize(
    "text",
    [
        "An edited version of my photo, at night",
        "把我的照片改成夜景",
        "添付した写真を夜の風景に編集してください",
        "첨부한 사진을 밤 풍경으로 편집해 주세요",
        "Bearbeite mein Foto: es soll Nacht sein",
        "Modifie ma photo pour qu'il fasse nuit",
        "Edita mi foto para que sea de noche",
        "Edite a minha foto para parecer noite",
        "Отредактируй моё фото, чтобы была ночь",
    ],
)
def test_a_change_to_the_attached_photo_requires_an_edit_tag_in_any_language(text: str) -> None:
    attached = Brief(text, user_images=(b"photo",))
    assert required_state(attached) == "seq0-e"
    user = build_messages(attached, Wiring())[1]["content"]
    assert "with an `edit` tag" in user and "img_index 0" in user
    assert required_state(Brief(text)) == "seq0"  # nothing attached: nothing to edit


def test_the_prompt_asks_for_the_briefs_language_and_its_stated_count() -> None:
    system, user = (m["content"] for m in build_messages(Brief("京都の旅行ガイド、金閣寺の写真を3枚"), Wiring()))
    assert "Write the whole article in Japanese (日本語)." in user
    assert "Include exactly 3 image tags." in user and "Use exactly 3 image tags." in system
    english = build_messages(Brief("A guide to Kyoto"), Wiring())[1]["content"]
    assert "Write the whole article" not in english  # the prompts' own language needs no line
    # a stated count beyond the studio's limit is held to it; the brief's setting wins over the text
    assert "Use exactly 4 image tags." in build_messages(Brief("Kyoto in twelve photos"), Wiring())[0]["content"]
    assert (
        "exactly 2 image tags"
        in build_messages(Brief("Kyoto in three photos", wanted_images=2), Wiring())[1]["content"]
    )


def test_one_trip_of_a_brief_reads_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import studio.core.brief_plan as brief_plan
    from studio.core.agent import writer_guard
    from studio.core.article import Article

    reads: list[str] = []
    real = brief_plan.plan_text

    def counted(text: str, **kwargs: object) -> brief_plan.BriefPlan:
        reads.append(text)
        return real(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(brief_plan, "plan_text", counted)
    brief = Brief("写一篇关于中国茶的文章，附一张各类茶叶产量的图表，分为八个部分", user_images=(b"x",))
    wiring = Wiring()
    messages = build_messages(brief, wiring)  # the system prompt, the user prompt
    chat_options(brief, wiring)  # the count, the grammar's required pictures
    writer_guard(messages, brief, wiring, Article(brief=brief.text))  # the guards
    build_messages(brief, wiring)  # the store records the messages again
    assert len(reads) == 1
    assert (brief.plan.language, brief.plan.kinds, brief.plan.sections) == ("zh", ("code",), 8)
