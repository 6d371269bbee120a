"""Start-up policy and the users CLI, through the real ``python -m studio`` commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.app.accounts import AccountError, UsersFile, check_startup, is_loopback
from tests.team.apps import ROOT


def studio(args: list[str], data_dir: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "STUDIO_DATA_DIR": str(data_dir), **env}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], input=stdin, capture_output=True, text=True, env=full, timeout=120
    )


def test_serving_on_0_0_0_0_without_accounts_is_refused_with_the_reason(tmp_path: Path) -> None:
    done = studio(["serve"], tmp_path, STUDIO_HOST="0.0.0.0", STUDIO_PORT="1")
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 without accounts" in done.stderr
    assert "STUDIO_AUTH=users" in done.stderr and "python -m studio users add" in done.stderr
    assert not (tmp_path / "studio.db").exists()  # refused before anything was opened
    # accounts asked for, but nobody can log in yet
    done = studio(["serve"], tmp_path, STUDIO_HOST="0.0.0.0", STUDIO_AUTH="users")
    assert done.returncode == 2 and "has no users" in done.stderr


def test_start_up_policy() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("studio.example")
    assert check_startup("127.0.0.1", "off", False, None) == []
    assert check_startup("0.0.0.0", "proxy", False, None) == []
    with pytest.raises(AccountError, match="refusing"):
        check_startup("192.168.1.5", "off", False, None)
    warnings = check_startup("0.0.0.0", "off", True, None)  # the explicit opt-out: allowed, said loudly
    assert len(warnings) == 1 and "ACCOUNTS ARE OFF ON 0.0.0.0" in warnings[0]


def test_users_cli_add_list_passwd_remove(tmp_path: Path) -> None:
    assert studio(["users", "add", "alice", "--password-stdin"], tmp_path, "first-password\n").returncode == 0
    assert studio(["users", "add", "root", "--password-stdin", "--admin"], tmp_path, "admin-password\n").returncode == 0
    assert studio(["users", "list"], tmp_path).stdout.splitlines() == ["alice", "root  (admin)"]
    text = (tmp_path / "users.json").read_text()
    assert "$argon2id$" in text and "first-password" not in text
    assert oct((tmp_path / "users.json").stat().st_mode & 0o777) == "0o600"
    users = UsersFile(tmp_path / "users.json")
    assert users.check("alice", "first-password") and not users.check("alice", "nope-nope")
    assert not users.check("nobody", "first-password") and users.is_admin("root") and not users.is_admin("alice")

    again = studio(["users", "add", "alice", "--password-stdin"], tmp_path, "other-password\n")
    assert again.returncode == 2 and "exists" in again.stderr
    short = studio(["users", "add", "bob", "--password-stdin"], tmp_path, "short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    bad = studio(["users", "add", "../x", "--password-stdin"], tmp_path, "long-enough\n")
    assert bad.returncode == 2 and "bad user name" in bad.stderr

    assert studio(["users", "passwd", "alice", "--password-stdin"], tmp_path, "second-password\n").returncode == 0
    assert users.check("alice", "second-password") and not users.check("alice", "first-password")
    assert studio(["users", "remove", "alice"], tmp_path).returncode == 0
    assert not users.check("alice", "second-password")
    missing = studio(["users", "remove", "alice"], tmp_path)
    assert missing.returncode == 2 and "no user 'alice'" in missing.stderr
