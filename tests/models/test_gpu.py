"""The GPU smoke's checks as GPU-marked tests: skipped without CUDA, run by bench/gpu_smoke.py
(and by ``pytest -m gpu``) on a machine with one. The same checks pass on the CPU: see
tests/test_gpu_smoke.py, which runs the script with --allow-cpu."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

from models import images
from tests import gpu_checks

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (bench/gpu_smoke.py on a GPU)"),
]


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    images.release()
    yield
    images.release()


@pytest.mark.parametrize("check", list(gpu_checks.CHECKS.values()), ids=list(gpu_checks.CHECKS))
def test_gpu_check(check: Callable[[str], dict[str, Any]]) -> None:
    check("cuda")


def test_cuda_is_what_torch_reports() -> None:
    facts = gpu_checks.detect()
    assert facts["cuda_available"] and facts["torch_cuda"] and facts["device_name"]
    assert images.resolve_device("auto") == "cuda" and images.dtype_for("cuda") == torch.float16
