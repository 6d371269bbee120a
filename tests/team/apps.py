"""Real app processes for the team tests and the bench: ``python -m studio serve`` on 127.0.0.1.

    with AppProcess(data_dir, url, users={"alice": "pw..."}) as app:
        Client(app.url, auth=("alice", "pw..."))

Each process is a real ``serve()`` (accounts, the asset route, the heartbeat) with the chart
tool only and an OpenAI-compatible backend at ``model_url`` (none needed for /render and block
actions on charts; a scripted server for /generate). Several processes may share one data
folder (one asset directory) and one database URL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add_users(data_dir: Path, users: dict[str, str], admins: tuple[str, ...] = ()) -> None:
    """Accounts through the real CLI (``python -m studio users add NAME --password-stdin``)."""
    for name, password in users.items():
        args = [sys.executable, "-m", "studio", "users", "add", name, "--password-stdin"]
        done = subprocess.run(
            args + (["--admin"] if name in admins else []),
            input=password + "\n",
            capture_output=True,
            text=True,
            env={**os.environ, "STUDIO_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr


class AppProcess:
    def __init__(
        self,
        data_dir: Path,
        database_url: str | None = None,
        *,
        auth: str = "users",
        model_url: str = "http://127.0.0.1:9/v1",
        extra_env: dict[str, str] | None = None,
        root: Path = ROOT,
    ) -> None:
        self.root = root  # the code to run (a bench may run an older commit's tree)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = Path(data_dir).parent / f"app-{self.port}.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(root),
            "STUDIO_DATA_DIR": str(data_dir),
            "STUDIO_HOST": "127.0.0.1",
            "STUDIO_PORT": str(self.port),
            "STUDIO_AUTH": auth,
            "STUDIO_BACKEND": "openai",
            "STUDIO_OPENAI_BASE_URL": model_url,
            "STUDIO_OPENAI_MODEL": "scripted",
            "STUDIO_TOOLS_ENABLED": json.dumps(["code"]),
            "STUDIO_UI_CONCURRENCY": "8",
            "STUDIO_PROCESS_HEARTBEAT_S": "1",
            **({"STUDIO_DATABASE_URL": database_url} if database_url else {}),
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> AppProcess:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "studio", "serve"], env=self.env, cwd=self.root, stdout=log, stderr=log
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                answered = httpx.get(self.url + "gradio_api/startup-events", timeout=2).status_code in (200, 401)
                if answered and "LLM-I Studio on" in self.log.read_text():
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the app did not start in {START_TIMEOUT_S} s:\n{self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> AppProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
