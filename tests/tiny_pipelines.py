"""Tiny random-weight diffusers pipelines, built from config on disk, for tests.

Real Stable Diffusion weights are gigabytes and need the internet; these pipelines have the
same architecture and file layout (model_index.json, unet/, vae/, text_encoder/, tokenizer/,
scheduler/) with a few thousand random weights, so loading them by local path exercises the
real diffusers loading code. Their pictures are noise, but deterministic noise: the same seed
gives the same bytes.

Each builder writes once per test process into a temporary folder (removed at exit) and
returns the same path on later calls, so several test modules can share one build.

    from tests.tiny_pipelines import tiny_text2image_dir, tiny_instruct_pix2pix_dir

The diffusion tests load them on ``TEST_DEVICE``: the CPU, or ``STUDIO_TEST_DEVICE=cuda`` (how
bench/gpu_smoke.py runs the same tests on a GPU, in float16); ``TEST_DTYPE`` is the dtype name
the studio picks there.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import string
import tempfile
import threading
from pathlib import Path

TEST_DEVICE = os.environ.get("STUDIO_TEST_DEVICE", "cpu")
TEST_DTYPE = "float16" if TEST_DEVICE == "cuda" else "float32"

_LOCK = threading.Lock()
_ROOT: Path | None = None

# One token per printable character (plus its end-of-word form): enough for any ASCII prompt,
# and far below the text encoder's vocab size. Unknown characters map to the unk token.
_CHARS = string.ascii_lowercase + string.digits + string.punctuation
TEXT_VOCAB_SIZE = 256


def _root() -> Path:
    global _ROOT
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="tiny-pipelines-"))
        atexit.register(shutil.rmtree, _ROOT, True)
    return _ROOT


def write_tiny_clip_tokenizer(folder: Path, max_length: int = 77) -> Path:
    """Save a character-level CLIPTokenizer (no merges) that loads offline like the real one."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in _CHARS:
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    assert len(vocab) < TEXT_VOCAB_SIZE
    from transformers import CLIPTokenizer

    # transformers 5 builds the tokenizers-backed BPE from an in-memory vocab and merge list.
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)
    tokenizer.save_pretrained(folder)
    return folder


def _text_encoder():  # noqa: ANN202 - transformers type, imported lazily
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=TEXT_VOCAB_SIZE,
        max_position_embeddings=77,
        projection_dim=32,
    )
    return CLIPTextModel(config).eval()


def _vae():  # noqa: ANN202
    from diffusers import AutoencoderKL

    # Two blocks: the latent is half the image side (real SD: one eighth).
    return AutoencoderKL(
        block_out_channels=(8, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
    ).eval()


def _unet(in_channels: int):  # noqa: ANN202
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=8,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=4,
    ).eval()


def _build(name: str, make) -> Path:  # noqa: ANN001
    with _LOCK:
        folder = _root() / name
        if not (folder / "model_index.json").exists():
            import torch

            torch.manual_seed(0)  # the same tiny weights every run
            tokenizer_dir = write_tiny_clip_tokenizer(_root() / f"{name}-tokenizer")
            make(tokenizer_dir).save_pretrained(folder)
        return folder


@functools.cache
def tiny_text2image_dir() -> Path:
    """A StableDiffusionPipeline folder (EulerDiscrete scheduler, no safety checker)."""

    def make(tokenizer_dir: Path):  # noqa: ANN202
        from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline
        from transformers import CLIPTokenizer

        return StableDiffusionPipeline(
            vae=_vae(),
            text_encoder=_text_encoder(),
            tokenizer=CLIPTokenizer.from_pretrained(tokenizer_dir),
            unet=_unet(4),
            scheduler=EulerDiscreteScheduler(
                beta_start=0.00085,
                beta_end=0.012,
                beta_schedule="scaled_linear",
                timestep_spacing="trailing",
                steps_offset=1,
            ),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )

    return _build("text2image", make)


@functools.cache
def tiny_instruct_pix2pix_dir() -> Path:
    """A StableDiffusionInstructPix2PixPipeline folder: its UNet reads 8 channels (noise + image latents)."""

    def make(tokenizer_dir: Path):  # noqa: ANN202
        from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline
        from transformers import CLIPTokenizer

        return StableDiffusionInstructPix2PixPipeline(
            vae=_vae(),
            text_encoder=_text_encoder(),
            tokenizer=CLIPTokenizer.from_pretrained(tokenizer_dir),
            unet=_unet(8),
            scheduler=EulerAncestralDiscreteScheduler(
                beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
            ),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )

    return _build("instruct-pix2pix", make)
