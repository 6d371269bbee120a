"""One spec per source: the prompt's tag shapes, the grammar's tag rules and format_tag come from
the tools' Params models, and stay byte-for-byte what the embedded model was tuned on."""

from __future__ import annotations

from studio.core.grammar import article_grammar
from studio.core.prompts import params_shape, tag_shape
from studio.core.protocol import format_tag, parse_tag
from tools.params import edit_targets, edits_images

# the shapes as they were written by hand before they were derived
HAND_WRITTEN = {
    "search": "{'query': '<search words>'}",
    "diffusion": "{'prompt': '<subject, style, mood>'}",
    "code": "{'code': '<python code>'}",
    "edit": "{'img_index': <image number>, 'prompt': '<change to make>'}",
}


def test_prompt_shapes_are_derived_from_the_params_models() -> None:
    for source, shape in HAND_WRITTEN.items():
        assert params_shape(source, two_phase_code=False) == shape
    assert params_shape("code", two_phase_code=True) == "{'code': ''}"
    assert tag_shape("edit") == (
        "<imgen>{'source': 'edit', 'description': '<edited picture caption>', "
        "'params': {'img_index': <image number>, 'prompt': '<change to make>'}}</imgen>"
    )


def test_grammar_tag_rules_are_derived_from_the_params_models() -> None:
    rules = dict(
        line.split(" ::= ", 1)
        for line in article_grammar(
            ["search", "code", "edit"], min_images=1, max_images=2, user_image_count=1, two_phase_code=False
        ).splitlines()
    )
    head = "\"<imgen>{'source': '"
    mid = "', 'description': '\" desc \"', 'params': {"
    assert rules["tag-search"] == f"{head}search{mid}'query': '\" query \"'}}}}</imgen>\""
    assert rules["tag-code"] == f"{head}code{mid}'code': '\" code-body \"'}}}}</imgen>\""
    assert rules["tag-edit0"] == f'{head}edit{mid}\'img_index\': " ( "0" ) ", \'prompt\': \'" prompt "\'}}}}</imgen>"'
    assert rules["tag-edit1"] == (
        f'{head}edit{mid}\'img_index\': " ( "0" | "1" ) ", \'prompt\': \'" prompt "\'}}}}</imgen>"'
    )


def test_one_edit_target_rule_for_protocol_and_grammar() -> None:
    assert edits_images("edit") and not edits_images("code")
    assert list(edit_targets(0)) == [] and list(edit_targets(2)) == [0, 1]
    tag = format_tag("edit", "bluer", {"img_index": 1, "prompt": "make it blue"})
    assert parse_tag(tag, tag_position=1, user_image_count=1).params_dict()["img_index"] == 1  # type: ignore[union-attr]
    refused = parse_tag(tag, tag_position=0, user_image_count=1)
    assert "does not point at an earlier image" in refused.reason  # type: ignore[union-attr]
    # no position where an edit could point anywhere: no edit rule at all
    assert "tag-edit0" not in article_grammar(["edit", "search"], min_images=1, max_images=1)


def test_format_tag_writes_a_source_enum_as_its_plain_name() -> None:
    from models.vocab import Source
    from studio.core.protocol import format_tag, parse_tag

    tag = format_tag(Source.CODE, "a chart", {"code": "x = 1"})
    assert "'source': 'code'" in tag and "Source." not in tag
    assert parse_tag(tag).source == "code"  # type: ignore[union-attr]
