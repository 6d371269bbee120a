"""setup.sh's torch choice (deploy/torch_choice.py): a fake ``nvidia-smi`` on PATH for a driver,
a real HTTP server on 127.0.0.1 for a reachable CPU index, a closed port for an unreachable one,
and the STUDIO_TORCH override. Nothing is downloaded: the script prints pip's arguments, and
setup.sh is run once with a recording stand-in for the venv's python to show it passes exactly
those arguments to pip."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.httpserver import LocalServer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "torch_choice.py"
PIN = next(line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch=="))
INDEX_PAGE = b'<html><body><a href="torch-2.13.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl">torch</a></body></html>'


@pytest.fixture(scope="module")
def cpu_index() -> Iterator[str]:
    """A CPU wheel index that answers for torch, as download.pytorch.org/whl/cpu does."""
    with LocalServer() as server:
        server.route("/whl/cpu/torch/", body=INDEX_PAGE, headers={"Content-Type": "text/html"})
        yield server.url("/whl/cpu")


@pytest.fixture
def closed_index() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/whl/cpu"  # nothing listens there now: connection refused


def fake_bin(folder: Path, driver: bool) -> Path:
    """A PATH folder, with an executable ``nvidia-smi`` in it when ``driver``."""
    folder.mkdir(parents=True, exist_ok=True)
    if driver:
        smi = folder / "nvidia-smi"
        smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3'\n")
        smi.chmod(0o755)
    return folder


def choose(tmp_path: Path, index: str, *, driver: bool, mode: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": str(fake_bin(tmp_path / ("with-driver" if driver else "no-driver"), driver)),
        "STUDIO_TORCH_CPU_INDEX": index,
        "STUDIO_TORCH_PROBE_TIMEOUT": "5",
        "STUDIO_TORCH_DRIVER_DIR": str(tmp_path / "no-proc-driver"),  # this machine's /proc says nothing
    }
    if mode is not None:
        env["STUDIO_TORCH"] = mode
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def pip_args(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # one line says what and why
    return result.stdout.splitlines()


def test_no_driver_takes_the_cpu_index(tmp_path: Path, cpu_index: str) -> None:
    result = choose(tmp_path, cpu_index, driver=False)
    assert pip_args(result) == [PIN, "--index-url", cpu_index]
    assert "no NVIDIA driver" in result.stderr and "CPU build" in result.stderr and "190 MB" in result.stderr


def test_no_driver_and_no_cpu_index_falls_back_and_says_so(tmp_path: Path, closed_index: str) -> None:
    result = choose(tmp_path, closed_index, driver=False)
    assert pip_args(result) == [PIN]  # the default index
    assert f"{closed_index} cannot be reached" in result.stderr
    assert "default index instead" in result.stderr and "about 3 GB" in result.stderr


def test_an_index_without_torch_counts_as_unreachable(tmp_path: Path, cpu_index: str) -> None:
    result = choose(tmp_path, cpu_index.replace("/whl/cpu", "/whl/none"), driver=False)
    assert pip_args(result) == [PIN] and "HTTP 404" in result.stderr


def test_a_driver_keeps_the_cuda_build_without_asking_the_cpu_index(tmp_path: Path, closed_index: str) -> None:
    result = choose(tmp_path, closed_index, driver=True)
    assert pip_args(result) == [PIN]
    assert "NVIDIA driver found (nvidia-smi is on PATH)" in result.stderr and "CUDA" in result.stderr


def test_the_kernel_driver_alone_counts(tmp_path: Path, closed_index: str) -> None:
    (tmp_path / "no-proc-driver").mkdir()  # /proc/driver/nvidia without nvidia-smi on PATH
    result = choose(tmp_path, closed_index, driver=False)
    assert pip_args(result) == [PIN] and "no-proc-driver exists" in result.stderr


def test_override_cpu_on_a_gpu_machine(tmp_path: Path, cpu_index: str) -> None:
    result = choose(tmp_path, cpu_index, driver=True, mode="cpu")
    assert pip_args(result) == [PIN, "--index-url", cpu_index] and "STUDIO_TORCH=cpu" in result.stderr


def test_override_cpu_refuses_to_fall_back_to_cuda(tmp_path: Path, closed_index: str) -> None:
    result = choose(tmp_path, closed_index, driver=False, mode="cpu")
    assert result.returncode == 2 and result.stdout == ""
    assert "cannot be reached" in result.stderr and "STUDIO_TORCH=auto" in result.stderr


def test_override_cuda_without_a_driver(tmp_path: Path, cpu_index: str) -> None:
    result = choose(tmp_path, cpu_index, driver=False, mode="cuda")
    assert pip_args(result) == [PIN] and "STUDIO_TORCH=cuda" in result.stderr


def test_override_auto_is_the_default(tmp_path: Path, cpu_index: str) -> None:
    assert pip_args(choose(tmp_path, cpu_index, driver=False, mode="AUTO")) == [PIN, "--index-url", cpu_index]


def test_a_bad_override_says_what_to_use(tmp_path: Path, cpu_index: str) -> None:
    result = choose(tmp_path, cpu_index, driver=False, mode="gpu")
    assert result.returncode == 2 and result.stdout == ""
    assert "STUDIO_TORCH='gpu': use cpu, cuda or auto" in result.stderr


def _setup_copy() -> Path:
    """setup.sh and what it reads, in a folder a normal user may enter, with a recording
    stand-in for .venv/bin/python (it logs its arguments and installs nothing)."""
    folder = Path(tempfile.mkdtemp(prefix="setup-torch-"))
    (folder / "deploy").mkdir()
    for name in ("setup.sh", "requirements.txt", "deploy/torch_choice.py"):
        shutil.copy(ROOT / name, folder / name)
    venv_bin = folder / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    python = venv_bin / "python"
    python.write_text('#!/bin/sh\nprintf "%s\\n" "$*" >> "$(dirname "$0")/../../pip.log"\n')
    python.chmod(0o755)
    (folder / "web").mkdir()  # the editor bundle's folder: npm runs there (a stand-in, below)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
    for log in ("pip.log", "npm.log"):
        (folder / log).touch(mode=0o666)
        (folder / log).chmod(0o666)
    return folder


@pytest.mark.parametrize("driver", [False, True])
def test_setup_sh_passes_exactly_these_arguments_to_pip(tmp_path: Path, cpu_index: str, driver: bool) -> None:
    folder = _setup_copy()
    try:
        fake = fake_bin(Path(folder) / "fake-bin", driver)
        npm = fake / "npm"  # records setup.sh's bundle build instead of running it
        npm.write_text(f'#!/bin/sh\nprintf "%s %s\\n" "$(basename "$PWD")" "$*" >> {folder / "npm.log"}\n')
        npm.chmod(0o755)
        fake.chmod(0o755)
        env = {
            "PATH": f"{fake}:/usr/bin:/bin",
            "PYTHON": sys.executable if os.geteuid() != 0 else shutil.which("python3", path="/usr/bin:/bin") or "",
            "STUDIO_TORCH": "auto" if driver else "cpu",  # cpu: a real nvidia-smi on this machine cannot interfere
            "STUDIO_TORCH_CPU_INDEX": cpu_index,
            "STUDIO_TORCH_PROBE_TIMEOUT": "5",
            "HOME": str(folder),
        }
        # As root setup.sh would install system packages; as a normal user it only prints a note.
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*as_user, "bash", str(folder / "setup.sh")], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        expected = subprocess.run(
            [env["PYTHON"], str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
        ).stdout.splitlines()
        calls = (folder / "pip.log").read_text().splitlines()
        torch_call = "-m pip install --quiet " + " ".join(expected)
        assert calls.index(torch_call) < calls.index("-m pip install --quiet -r requirements.txt"), calls
        assert expected == ([PIN] if driver else [PIN, "--index-url", cpu_index])
        npm_calls = (folder / "npm.log").read_text().splitlines()
        assert [c.split()[:2] for c in npm_calls] == [["web", "ci"], ["web", "run"]], npm_calls
    finally:
        shutil.rmtree(folder)
