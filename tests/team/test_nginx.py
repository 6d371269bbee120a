"""Proxy mode behind the shipped nginx config (deploy/nginx-studio.conf), with the real nginx.

The config is used as shipped except for ports and file paths, and one line: where it tells
the operator to pass the user from their authentication (``auth_request``), the test passes a
request header instead. The client connects from 127.0.0.5, so nginx's ``X-Forwarded-For``
names an address that is not a trusted proxy: the studio must still believe nginx (the peer),
and nothing else. Skipped where nginx is absent, unless ``STUDIO_REQUIRE_NGINX=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storage import repo
from tests.team.apps import ROOT, free_port
from tests.team.test_auth import App, raw_call, serve


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
    if found is None:
        if os.environ.get("STUDIO_REQUIRE_NGINX") == "1":
            pytest.fail("nginx is required here (STUDIO_REQUIRE_NGINX=1): apt-get install -y nginx")
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    return found


def shipped_config(tmp: Path, app_port: int, port: int) -> str:
    text = (ROOT / "deploy" / "nginx-studio.conf").read_text()
    for old, new in (
        ("/tmp/llmi-studio-nginx", str(tmp / "nginx")),
        ("server 127.0.0.1:7861;\n        server 127.0.0.1:7862;", f"server 127.0.0.1:{app_port};"),
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
        ('proxy_set_header X-Forwarded-User "";', "proxy_set_header X-Forwarded-User $http_x_test_user;"),
    ):
        assert old in text, f"the shipped config changed: {old!r} is gone"
        text = text.replace(old, new)
    return text


@pytest.fixture
def behind_nginx(tmp_path: Path) -> Iterator[tuple[str, App]]:
    binary = nginx_binary()
    for app in serve(tmp_path / "data", auth="proxy"):
        port = int(app.url.rsplit(":", 1)[1].strip("/"))
        listen = free_port()
        conf = tmp_path / "nginx.conf"
        conf.write_text(shipped_config(tmp_path, port, listen))
        args = [binary, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-g", "daemon off;"]
        nginx = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", listen), timeout=1).close()
                    break
                except OSError:
                    assert nginx.poll() is None, nginx.stdout.read().decode() if nginx.stdout else ""
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{listen}/", app
        finally:
            nginx.terminate()
            nginx.wait(timeout=30)


def test_proxy_mode_works_behind_the_shipped_nginx_config(behind_nginx: tuple[str, App]) -> None:
    url, app = behind_nginx
    transport = httpx.HTTPTransport(local_address="127.0.0.5")  # X-Forwarded-For: 127.0.0.5
    with httpx.Client(base_url=url, timeout=60, transport=transport) as anon:
        assert anon.get("gradio_api/info").status_code == 401  # nginx passes no user: refused
    transport = httpx.HTTPTransport(local_address="127.0.0.5")
    with httpx.Client(base_url=url, timeout=60, transport=transport, headers={"X-Test-User": "dave"}) as dave:
        assert dave.get("gradio_api/info").status_code == 200
        raw_call(dave, "/new_project", ["dave's"])
    assert [p.name for p in repo.list_projects(app.studio.store, "dave")] == ["dave's"]
    # a client that reaches the app port itself (not from a trusted proxy) cannot name a user
    direct = httpx.Client(timeout=60, transport=httpx.HTTPTransport(local_address="127.0.0.5"))
    assert direct.get(app.url + "gradio_api/info", headers={"X-Forwarded-User": "dave"}).status_code == 401
    assert direct.get(app.url + "gradio_api/info", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 401
