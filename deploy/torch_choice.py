"""Which torch build setup.sh installs: prints the pip arguments, one per line, on stdout.

    python3 deploy/torch_choice.py          # e.g. "torch==2.13.0", "--index-url", "https://download.pytorch.org/whl/cpu"

setup.sh runs this with the system Python before anything else is installed (so: stdlib only)
and passes exactly these lines to ``pip install``. What it chose, and why, goes to stderr in
one line.

- ``STUDIO_TORCH=auto`` (default): an NVIDIA driver (``nvidia-smi`` on PATH, or
  ``/proc/driver/nvidia``) keeps the default index, whose Linux torch is the CUDA build. Without
  one, PyTorch's CPU wheel index, so a laptop does not download ~3 GB of CUDA libraries it never
  uses; when that index cannot be reached, the default index after all, said in one line with
  the size about to come down.
- ``STUDIO_TORCH=cpu``: the CPU index, or an error when it cannot be reached (asked for CPU,
  the user should not silently get CUDA).
- ``STUDIO_TORCH=cuda``: the default index, without looking for a driver.

The torch version is the ``torch==`` pin in requirements.txt. For tests (and mirrors):
``STUDIO_TORCH_CPU_INDEX`` (the CPU index URL), ``STUDIO_TORCH_PROBE_TIMEOUT`` (seconds) and
``STUDIO_TORCH_DRIVER_DIR`` (where the kernel driver shows itself).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
DRIVER_DIR = "/proc/driver/nvidia"
PROBE_TIMEOUT_S = 10.0
# Download sizes for the message. CPU: the torch-2.13.0+cpu cp311 wheel is 183 MiB (measured);
# CUDA: the torch wheel plus its nvidia-* libraries, about 3 GB (issue 24: its venv was 7.4 GB
# against 4.6 GB with the CPU wheel).
CPU_DOWNLOAD = "about 190 MB"
CUDA_DOWNLOAD = "about 3 GB with its nvidia-* CUDA libraries"
MODES = ("auto", "cpu", "cuda")


class ChoiceError(Exception):
    """A choice that cannot be honoured; the message says what to do."""


def torch_pin(requirements: Path) -> str:
    """The ``torch==X`` line of requirements.txt (one place pins the version)."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        spec = line.split("#", 1)[0].strip()
        if re.fullmatch(r"torch\s*==\s*[\w.+]+", spec):
            return spec.replace(" ", "")
    raise ChoiceError(f"{requirements} pins no torch version (a line like torch==2.13.0)")


def driver_found(driver_dir: str) -> str | None:
    """How an NVIDIA driver shows itself here (for the message), or None."""
    if shutil.which("nvidia-smi"):
        return "nvidia-smi is on PATH"
    if os.path.exists(driver_dir):
        return f"{driver_dir} exists"
    return None


def probe(index: str, timeout_s: float) -> str | None:
    """None when the index answers for torch, else the reason it cannot be reached."""
    url = index.rstrip("/") + "/torch/"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            response.read(1)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} for {url}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{reason}"
    return None


def choose(env: dict[str, str], requirements: Path) -> tuple[list[str], str]:
    """(pip arguments, one line saying what and why)."""
    mode = env.get("STUDIO_TORCH", "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ChoiceError(f"STUDIO_TORCH={env['STUDIO_TORCH']!r}: use cpu, cuda or auto (the default)")
    pin = torch_pin(requirements)
    index = env.get("STUDIO_TORCH_CPU_INDEX") or CPU_INDEX
    default = [pin]
    if mode == "cuda":
        return default, f"torch: STUDIO_TORCH=cuda: {pin} from the default index (the CUDA build, {CUDA_DOWNLOAD})"
    if mode == "auto":
        if not sys.platform.startswith("linux"):
            return default, f"torch: {pin} from the default index (on {sys.platform} it has no CUDA libraries)"
        driver = driver_found(env.get("STUDIO_TORCH_DRIVER_DIR") or DRIVER_DIR)
        if driver:
            note = f"torch: NVIDIA driver found ({driver}): {pin} from the default index (CUDA, {CUDA_DOWNLOAD})"
            return default, note
    try:
        timeout_s = float(env.get("STUDIO_TORCH_PROBE_TIMEOUT") or PROBE_TIMEOUT_S)
    except ValueError as exc:
        value = env["STUDIO_TORCH_PROBE_TIMEOUT"]
        raise ChoiceError(f"STUDIO_TORCH_PROBE_TIMEOUT: a number of seconds, not {value!r}") from exc
    why_not = probe(index, timeout_s)
    if why_not is None:
        why = "STUDIO_TORCH=cpu" if mode == "cpu" else "no NVIDIA driver"
        return [pin, "--index-url", index], f"torch: {why}: the CPU build of {pin} from {index} ({CPU_DOWNLOAD})"
    if mode == "cpu":
        raise ChoiceError(
            f"STUDIO_TORCH=cpu, but the CPU wheel index {index} cannot be reached ({why_not}): check the network "
            "or proxy (or set STUDIO_TORCH_CPU_INDEX to a mirror), or use STUDIO_TORCH=auto to take the default index"
        )
    return default, (
        f"torch: no NVIDIA driver, but the CPU wheel index {index} cannot be reached ({why_not}): {pin} from the "
        f"default index instead, the CUDA build on Linux x86_64 ({CUDA_DOWNLOAD}) unless pip is set up with a "
        "local CPU wheel"
    )


def main() -> int:
    requirements = Path(__file__).resolve().parent.parent / "requirements.txt"
    try:
        args, note = choose(dict(os.environ), requirements)
    except (ChoiceError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(note, file=sys.stderr)
    print("\n".join(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
