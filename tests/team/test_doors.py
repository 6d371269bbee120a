"""The team's doors on a real app (Gradio on 127.0.0.1, in this process): logins checked off the
event loop and locked after failures, session ids bound to their user, exports only for their
owner; and logins revoked across two real app processes by the users CLI."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from studio.app.accounts import UsersFile
from tests.httpserver import LocalServer
from tests.team.apps import ROOT, AppProcess, add_users
from tests.team.test_auth import App, serve
from tests.team.workload import response_for

PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "carol": "carol-password"}  # carol: an admin
CONFIGURED = "http://studio:pa55-in-url@127.0.0.1:9/v1"  # credentials in the configured URL
MAX_FAILURES = 3


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    data_dir = tmp_path_factory.mktemp("doors")
    users = UsersFile(data_dir / "users.json")
    for name, password in PASSWORDS.items():
        users.add(name, password, admin=name == "carol")
    yield from serve(
        data_dir, auth="users", login_max_failures=MAX_FAILURES, login_backoff_s=2.0, login_backoff_max_s=2.0,
        openai_base_url=CONFIGURED,
    )  # fmt: skip


def log_in(app: App, name: str, password: str | None = None) -> httpx.Response:
    return httpx.post(app.url + "login", data={"username": name, "password": password or PASSWORDS[name]}, timeout=60)


def session(app: App, name: str) -> httpx.Client:
    http = httpx.Client(base_url=app.url, timeout=120)
    answer = http.post("login", data={"username": name, "password": PASSWORDS[name]})
    assert answer.status_code == 200, answer.text
    return http


def call(http: httpx.Client, name: str, data: list[object], session_hash: str) -> tuple[int, str]:
    posted = http.post(f"gradio_api/call{name}", json={"data": data, "session_hash": session_hash})
    if posted.status_code != 200:
        return posted.status_code, posted.text
    return 200, http.get(f"gradio_api/call{name}/{posted.json()['event_id']}").text


def test_the_password_check_runs_off_the_event_loop(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    users = app.studio.users
    assert users is not None
    on_a_loop: list[bool] = []
    check = type(users).check

    def recording(self: UsersFile, name: str, password: str) -> bool:
        try:
            asyncio.get_running_loop()
            on_a_loop.append(True)
        except RuntimeError:
            on_a_loop.append(False)
        return check(self, name, password)

    monkeypatch.setattr(type(users), "check", recording)
    assert log_in(app, "alice").status_code == 200
    assert on_a_loop == [False]  # argon2 ran in a worker thread, not on Gradio's event loop


def test_failed_logins_back_off_then_lock_the_name_until_its_password_changes(app: App) -> None:
    first = log_in(app, "bob", "wrong-password")
    assert first.status_code == 400
    too_soon = log_in(app, "bob", "wrong-password")  # within the backoff: refused without a check
    assert too_soon.status_code == 429 and "try again in" in too_soon.json()["detail"]
    assert too_soon.headers["retry-after"].isdigit()
    for _ in range(MAX_FAILURES - 1):
        time.sleep(2.1)  # past the (capped) backoff
        assert log_in(app, "bob", "wrong-password").status_code == 400
    time.sleep(2.1)
    locked = log_in(app, "bob")  # the right password, after MAX_FAILURES wrong ones
    assert locked.status_code == 429, locked.text
    assert log_in(app, "alice").status_code in (200, 429)  # the address waits too, briefly
    # `users passwd` lifts the lock (the lock remembers the hash it was taken under)
    users = app.studio.users
    assert users is not None
    users.passwd("bob", "bob-new-password")
    time.sleep(2.1)
    assert log_in(app, "bob", "bob-new-password").status_code == 200
    users.passwd("bob", PASSWORDS["bob"])


def test_another_users_session_id_is_not_found(app: App) -> None:
    alice, bob = session(app, "alice"), session(app, "bob")
    status, text = call(alice, "/render", ["alice's brief", response_for(1), "", ""], "alice-session-1")
    assert status == 200 and "event: complete" in text
    status, text = call(bob, "/projects", [], "alice-session-1")
    assert status == 404 and "not found" in text
    # the queue's event stream and Gradio's session state are closed to bob as well
    assert bob.get("gradio_api/queue/data", params={"session_hash": "alice-session-1"}).status_code == 404
    assert bob.get("gradio_api/heartbeat/alice-session-1").status_code == 404
    status, text = call(alice, "/projects", [], "alice-session-1")
    assert status == 200 and "alice's brief" in text
    assert call(bob, "/projects", [], "bob-session-1")[0] == 200


def _export_path(text: str) -> str:
    match = re.search(r'"path":\s*"([^"]+)"', text)
    assert match, text[-2000:]
    return match.group(1)


def test_an_export_is_served_only_to_its_owner(app: App) -> None:
    alice, bob = session(app, "alice"), session(app, "bob")
    sid = "alice-export-session"
    assert call(alice, "/render", ["alice's export", response_for(2), "", ""], sid)[0] == 200
    status, text = call(alice, "/export_anyway", ["md", False, True], sid)
    assert status == 200, text
    path = _export_path(text)
    assert bob.get(f"gradio_api/file={path}").status_code == 404
    got = alice.get(f"gradio_api/file={path}")
    assert got.status_code == 200
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        assert "Some text for client 2." in archive.read("article.md").decode()
    # private on disk too: 0600 in 0700 folders, so no other local account reads it
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(Path(path).parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(Path(path).parent.parent).st_mode) == 0o700


def _users_cli(data_dir: Path, *args: str, password: str | None = None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "studio", "users", *args] + (["--password-stdin"] if password else []),
        input=(password or "") + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, "STUDIO_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def _logged_in(url: str, name: str, password: str) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=60)
    assert http.post("login", data={"username": name, "password": password}).status_code == 200
    assert http.get("gradio_api/info").status_code == 200
    return http


def test_users_remove_and_passwd_end_sessions_in_every_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    add_users(data_dir, PASSWORDS)
    with AppProcess(data_dir) as one, AppProcess(data_dir) as two:
        alices = [_logged_in(app.url, "alice", PASSWORDS["alice"]) for app in (one, two)]
        bobs = [_logged_in(app.url, "bob", PASSWORDS["bob"]) for app in (one, two)]
        _users_cli(data_dir, "remove", "bob")
        _users_cli(data_dir, "passwd", "alice", password="alice-second-password")
        for http in alices + bobs:
            assert http.get("gradio_api/info").status_code == 401
            posted = http.post("gradio_api/call/new_project", json={"data": ["after removal"]})
            assert posted.status_code == 401
        again = _logged_in(two.url, "alice", "alice-second-password")
        assert json.loads(again.get("gradio_api/user").text) == "alice"


# --- base URLs, credentials, uploads (issue #19 part 6) ---------------------------------------------


@pytest.fixture(scope="module")
def internal() -> Iterator[LocalServer]:
    """An "internal" service on loopback whose answers must never reach a colleague."""
    with LocalServer() as server:
        server.route("/v1/models", body=json.dumps({"data": [{"id": "INTERNAL-MODEL-ID"}]}).encode(),
                     headers={"Content-Type": "application/json"})  # fmt: skip
        server.route("/v2/models", status=500, body=b"INTERNAL-SECRET-PAGE " * 20)
        yield server


def test_only_an_admin_may_use_another_base_url_and_answers_are_never_echoed(
    app: App, internal: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, carol = session(app, "alice"), session(app, "carol")
    status, text = call(alice, "/test_connection", ["openai", internal.url("/v1"), ""], "alice-url-1")
    assert status == 200 and "only an admin" in text
    status, text = call(alice, "/generate", ["brief", 0, ["code"], "", "openai", internal.url("/v1"), "", 1],
                        "alice-url-1")  # fmt: skip
    assert status == 200 and "only an admin" in text
    assert internal.requests == []  # the studio never asked it
    # STUDIO_ALLOW_CUSTOM_BASE_URL: public servers for everyone, loopback/private/link-local for nobody
    monkeypatch.setattr(app.studio.settings, "allow_custom_base_url", True)
    for url in (internal.url("/v1"), "http://169.254.169.254/latest", "http://10.1.2.3/v1", "http://[::1]:9/v1"):
        status, text = call(alice, "/test_connection", ["openai", url, ""], "alice-url-1")
        assert status == 200 and re.search("loopback|link-local|private", text), (url, text)
    assert internal.requests == []
    # an admin may, and still reads only whether it works
    status, text = call(carol, "/test_connection", ["openai", internal.url("/v1"), ""], "carol-url-1")
    assert status == 200 and "OK:" in text and "INTERNAL-MODEL-ID" not in text
    status, text = call(carol, "/test_connection", ["openai", internal.url("/v2"), ""], "carol-url-1")
    assert status == 200 and "Not working" in text and "INTERNAL-SECRET" not in text


def test_credentials_in_the_configured_url_are_never_shown(app: App) -> None:
    alice = session(app, "alice")
    page = alice.get("config").text + alice.get("gradio_api/info").text
    assert "127.0.0.1:9/v1" in page and "pa55-in-url" not in page
    status, text = call(alice, "/test_connection", ["openai", "http://127.0.0.1:9/v1", ""], "alice-url-2")
    assert status == 200 and "pa55-in-url" not in text and "only an admin" not in text  # the configured server


def test_clients_for_other_servers_live_in_a_bounded_cache(app: App) -> None:
    from studio.app.session import MAX_BACKENDS

    for port in range(20):
        app.studio.backend_for("openai", f"http://127.0.0.1:{10_000 + port}/v1", "m")
    assert len(app.studio._backends) == MAX_BACKENDS


def test_an_upload_over_the_limit_is_refused_by_the_server(app: App) -> None:
    from studio.app.uploads import MAX_BYTES

    alice = session(app, "alice")
    big = alice.post("gradio_api/upload", files={"files": ("big.png", b"\x89PNG" + b"0" * MAX_BYTES)})
    assert big.status_code == 413, big.text[:300]
    small = alice.post("gradio_api/upload", files={"files": ("small.png", b"\x89PNG" + b"0" * 1000)})
    assert small.status_code == 200
