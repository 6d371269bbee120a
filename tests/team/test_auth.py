"""Accounts on a real app (Gradio on 127.0.0.1, in this process): unauthenticated requests are
refused everywhere, and user B cannot open, change, export or delete user A's project through
any endpoint, driven through gradio_client and through raw HTTP."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from models.openai_compat import OpenAICompatBackend
from storage import list_preference_events, repo
from studio.app.accounts import UsersFile
from studio.app.services import build_services
from studio.app.session import Session, Studio
from studio.app.settings import load_settings
from studio.app.store_adapter import load_article
from tests.team.apps import free_port
from tests.team.workload import article_json, response_for

PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "carol": "carol-password"}
ENDPOINTS = ("/generate", "/render", "/regenerate", "/accept", "/revert", "/rewrite", "/rate", "/projects",
             "/open_project", "/new_project", "/rename_project", "/duplicate_project", "/delete_project", "/export",
             "/export_preferences", "/test_connection")  # fmt: skip


NO = "(?i)event: error|not done|not deleted|no project|no article|not found"  # how an endpoint says no


@dataclass
class App:
    url: str
    studio: Studio


def serve(data_dir: Path, **settings: object) -> Iterator[App]:
    """The app as ``serve()`` wires it (login options, asset route), on a free port."""
    from studio.app.ui import build_app, launch
    from studio.app.ui_team import install_asset_route, launch_options

    values: dict[str, object] = {"data_dir": data_dir, "tools_enabled": ["code"], "backend": "openai", **settings}
    config = load_settings(**values)
    backend = OpenAICompatBackend("http://127.0.0.1:9/v1", model="x")
    studio = Studio(config, services=build_services(config, backend=backend))
    app = build_app(studio)
    port = free_port()
    launch(app, "127.0.0.1", port, block=False, **launch_options(studio))
    install_asset_route(app, studio)
    try:
        yield App(f"http://127.0.0.1:{port}/", studio)
    finally:
        app.close()
        studio.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    data_dir = tmp_path_factory.mktemp("auth")
    users = UsersFile(data_dir / "users.json")
    for name, password in PASSWORDS.items():
        users.add(name, password, admin=name == "carol")
    yield from serve(data_dir, auth="users")


def login(app: App, name: str) -> Client:
    return Client(app.url, auth=(name, PASSWORDS[name]), verbose=False, httpx_kwargs={"timeout": 120})


def http_login(app: App, name: str) -> httpx.Client:
    http = httpx.Client(base_url=app.url, timeout=60)
    assert http.post("login", data={"username": name, "password": PASSWORDS[name]}).status_code == 200
    return http


def raw_call(http: httpx.Client, name: str, data: list[object], session_hash: str | None = None) -> str:
    """Gradio's two-step HTTP API: POST the inputs, then read the event stream; its text."""
    body: dict[str, object] = {"data": data, **({"session_hash": session_hash} if session_hash else {})}
    posted = http.post(f"gradio_api/call{name}", json=body)
    if session_hash and posted.status_code == 404:  # another user's session id (ui_doors)
        return posted.text
    assert posted.status_code == 200, posted.text
    return http.get(f"gradio_api/call{name}/{posted.json()['event_id']}").text


@pytest.fixture(scope="module")
def alices(app: App) -> dict[str, object]:
    """alice's project with an article (a chart image), rated and with one accepted block."""
    alice = login(app, "alice")
    final = article_json(alice.predict("alice's brief", response_for(1), "", api_name="/render"))
    alice.predict("b1", api_name="/accept")
    article = repo.open_article(app.studio.store, final["article_id"])
    chart = article.block("b2").current.asset
    assert chart is not None
    return {"client": alice, "project": final["project_id"], "article": final["article_id"], "asset": chart.sha256}


def test_unauthenticated_requests_are_refused_everywhere(app: App, alices: dict[str, object]) -> None:
    listed = set(login(app, "alice").view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert set(ENDPOINTS) <= listed
    anon = httpx.Client(base_url=app.url, timeout=60)
    for name in sorted(listed):
        for path in (f"gradio_api/call{name}", f"gradio_api/run{name}"):
            assert anon.post(path, json={"data": []}).status_code == 401, path
    assert anon.post("gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"}).status_code == 401
    assert anon.get("gradio_api/info").status_code == 401
    assert anon.get(f"studio/assets/{alices['asset']}").status_code == 401
    assert anon.post("gradio_api/upload", files={"files": ("a.png", b"x")}).status_code == 401
    assert anon.post("login", data={"username": "alice", "password": "wrong-password"}).status_code == 400
    assert anon.post("login", data={"username": "nobody", "password": "alice-password"}).status_code == 400
    with pytest.raises(Exception, match="(?i)login|auth|401"):
        Client(app.url, verbose=False)


def refused(call: Callable[[], object], pattern: str) -> bool:
    """The endpoint said no: an error (raised by gradio_client) or its message output (the
    project endpoints answer with a 'Not done: ...' message) matches ``pattern``."""
    try:
        text = json.dumps(call(), default=str)
    except Exception as exc:  # noqa: BLE001 - any error the endpoint raised is its answer
        text = str(exc)
    return re.search(pattern, text) is not None


def test_user_b_cannot_reach_user_a_project_through_gradio_client(app: App, alices: dict[str, object]) -> None:
    store, pid, aid = app.studio.store, int(alices["project"]), int(alices["article"])  # type: ignore[call-overload]
    before = (repo.get_project(store, pid).name, repo.open_article(store, aid), list_preference_events(store))
    bob = login(app, "bob")
    assert str(pid) not in json.dumps(bob.predict(api_name="/projects"))
    assert refused(lambda: bob.predict(pid, api_name="/open_project"), "not found")
    # Bob even presents Alice's session id: "not found" (ui_doors binds a session id to its user).
    alice: Client = alices["client"]  # type: ignore[assignment]
    bob.session_hash = alice.session_hash
    attempts = [
        ("pwned", "/rename_project"), ((), "/duplicate_project"), ((), "/delete_project"), (("html",), "/export"),
        (("b1",), "/accept"), (("b4", "again", "", None), "/regenerate"), (("b4", "1"), "/revert"),
        (("b1", "worse"), "/rewrite"), (("down", 1, "bad"), "/rate"),
    ]  # fmt: skip
    for args, name in attempts:
        call = (args,) if isinstance(args, str) else args
        answer = lambda call=call, name=name: bob.predict(*call, api_name=name)  # noqa: E731
        assert refused(answer, "(?i)not found|no project|no article|pick|open"), name
    bob.session_hash = "bob-own-session"
    assert str(pid) not in json.dumps(bob.predict(api_name="/projects"))
    assert (repo.get_project(store, pid).name, repo.open_article(store, aid), list_preference_events(store)) == before
    # Alice's own session still works and is still hers.
    assert article_json(alice.predict(pid, api_name="/open_project"))["article_id"] == aid


def test_user_b_cannot_reach_user_a_project_or_asset_through_raw_http(app: App, alices: dict[str, object]) -> None:
    store, pid = app.studio.store, int(alices["project"])  # type: ignore[call-overload]
    bob = http_login(app, "bob")
    assert re.search("not found", raw_call(bob, "/open_project", [pid]))
    alice_hash = alices["client"].session_hash  # type: ignore[attr-defined]
    for name, data in (("/rename_project", ["pwned"]), ("/delete_project", []), ("/export", ["md"])):
        assert re.search(NO, raw_call(bob, name, data, session_hash=alice_hash)), name
    assert f'"id": {pid}' not in raw_call(bob, "/projects", [])
    assert repo.get_project(store, pid).name == "alice's brief"

    asset = f"studio/assets/{alices['asset']}"
    assert bob.get(asset).status_code == 404  # the same answer as for a hash nobody has
    assert bob.get("studio/assets/" + "0" * 64).status_code == 404
    alice = http_login(app, "alice")
    got = alice.get(asset)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png" and got.content[:4] == b"\x89PNG"
    assert alice.get("studio/assets/..%2F..%2Fusers.json").status_code == 404
    # Gradio's own file route does not serve the store's files either, to anyone
    path = store.assets.path(str(alices["asset"]))
    assert alice.get(f"gradio_api/file={path}").status_code in (403, 404)
    assert bob.get(f"gradio_api/file={store.data_dir / 'users.json'}").status_code in (403, 404)


def _export_users(client: Client) -> set[str]:
    path, _counts = client.predict("all", True, api_name="/export_preferences")  # keep identical re-runs
    with zipfile.ZipFile(path) as z:
        rows = [json.loads(line) for line in io.TextIOWrapper(z.open("preferences.jsonl")).read().splitlines()]
        ratings = [json.loads(line) for line in io.TextIOWrapper(z.open("ratings.jsonl")).read().splitlines()]
    return {r["user"] for r in rows + ratings}


def test_preference_export_is_per_user_and_all_users_for_an_admin(app: App, alices: dict[str, object]) -> None:
    alice: Client = alices["client"]  # type: ignore[assignment]
    alice.predict(alices["project"], api_name="/open_project")
    alice.predict("b2", "again", "", None, api_name="/regenerate")  # the chart (the search tool is off)
    alice.predict("b2", "1", api_name="/revert")  # a pair: chosen v1 over v2
    bob = login(app, "bob")
    bob.predict("bob's brief", response_for(2), "", api_name="/render")
    bob.predict("b2", "again", "", None, api_name="/regenerate")  # the chart (the search tool is off)
    bob.predict("b2", "1", api_name="/revert")
    bob.predict("up", 5, "good", api_name="/rate")
    assert _export_users(alice) == {"alice"}
    assert _export_users(bob) == {"bob"}
    assert _export_users(login(app, "carol")) == {"alice", "bob"}  # carol is an admin


def test_a_trusted_proxy_header_names_the_user_and_nothing_else_does(tmp_path: Path) -> None:
    for trusted, expect in ((["127.0.0.1/32"], 200), (["10.0.0.0/8"], 401)):
        for app in serve(tmp_path / str(expect), auth="proxy", auth_header="X-Remote-User", proxy_ips=trusted):
            http = httpx.Client(base_url=app.url, timeout=60)
            assert http.get("gradio_api/info").status_code == 401  # no header
            assert http.get("gradio_api/info", headers={"X-Remote-User": "dave"}).status_code == expect
            if expect == 200:
                as_dave = httpx.Client(base_url=app.url, timeout=60, headers={"X-Remote-User": "dave"})
                raw_call(as_dave, "/new_project", ["dave's"])
                assert [p.name for p in repo.list_projects(app.studio.store, "dave")] == ["dave's"]
                assert repo.list_projects(app.studio.store, "local") == []
                bad = httpx.Client(base_url=app.url, timeout=60, headers={"X-Remote-User": "../local"})
                assert bad.get("gradio_api/info").status_code == 401


def test_user_b_cannot_use_the_editors_actions_on_user_a_article(app: App, alices: dict[str, object]) -> None:
    """The editor's card actions and project undo, from a session of bob's that even holds alice's
    article (as a forged state would): every one is "not found" and changes nothing; and the
    page's image URLs /studio-asset/<sha256> check the owner like /studio/assets."""
    store, pid, aid = app.studio.store, int(alices["project"]), int(alices["article"])  # type: ignore[call-overload]
    own = repo.create_project(store, "alice's second", owner="alice")
    repo.delete_project(store, own.id, owner="alice")
    before = (repo.open_article(store, aid), list_preference_events(store))
    bob = Session(app.studio, "bob")
    bob.project_id, bob.article_id = pid, aid
    _, bob.article, _ = load_article(store, aid, "alice")
    actions = [
        lambda: bob.move("b1", 1), lambda: bob.delete_block("b3"), lambda: bob.restore_block("b3"),
        lambda: bob.insert_text("b1", "bob's paragraph"), lambda: bob.edit_text("b1", "bob's text"),
        lambda: bob.caption("b2", "bob's caption"), lambda: bob.discard("b2"), lambda: bob.restore(own.id),
        lambda: bob.delete(), lambda: bob.reload(), lambda: bob.undo(), lambda: bob.redo(),
    ]  # fmt: skip
    for action in actions:
        with pytest.raises(KeyError, match="not found"):
            action()
    assert (repo.open_article(store, aid), list_preference_events(store)) == before
    with pytest.raises(KeyError, match="was deleted"):
        repo.get_project(store, own.id, owner="alice")

    url = f"studio-asset/{alices['asset']}"
    assert httpx.get(app.url + url, timeout=60).status_code == 401
    assert http_login(app, "bob").get(url).status_code == 404  # the same answer as for a hash nobody has
    got = http_login(app, "alice").get(url)
    assert got.status_code == 200 and got.content[:4] == b"\x89PNG"
