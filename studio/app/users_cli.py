"""``python -m studio users add|list|remove|passwd``: the accounts of a shared studio (users file).

The file is ``STUDIO_USERS_FILE`` (default ``<STUDIO_DATA_DIR>/users.json``); it keeps argon2id
hashes only. A password is asked twice on a terminal, or read as one line from standard input
with ``--password-stdin`` (scripts). Running app processes re-read the file when it changes, so
a change takes effect without a restart: ``remove`` and ``passwd`` end the user's logins at
their next request, and ``passwd`` lifts a lockout after failed logins (``logins.py``).
Removing a user keeps their projects in the store.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from studio.app.accounts import AccountError, UsersFile
from studio.app.settings import load_settings


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    try:
        first = getpass.getpass(f"password for {args.name}: ")
        again = getpass.getpass("again: ")
    except EOFError as exc:
        raise AccountError("no password typed (in a script, pipe it with --password-stdin); nothing changed") from exc
    if again != first:
        raise AccountError("the two passwords differ; nothing changed")
    return first


def _users() -> UsersFile:
    return UsersFile(load_settings().users_path())


def cmd_users(args: argparse.Namespace) -> int:
    users = _users()
    if args.users_command == "list":
        for user in users.users():
            print(f"{user.name}{'  (admin)' if user.admin else ''}")
        return 0
    if args.users_command == "add":
        user = users.add(args.name, _password(args), admin=args.admin)
        print(f"added {user.name}{' (admin)' if user.admin else ''} to {users.path}")
    elif args.users_command == "passwd":
        users.passwd(args.name, _password(args))
        print(f"changed the password of {args.name} in {users.path}")
    else:
        users.remove(args.name)
        print(f"removed {args.name} from {users.path} (their projects stay in the store)")
    return 0


def add_users_parser(sub: Any) -> None:
    users = sub.add_parser("users", help="accounts of a shared studio (STUDIO_AUTH=users)")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    users_sub.add_parser("list", help="the accounts (admins marked)").set_defaults(func=cmd_users)
    for name, text in (("add", "add an account"), ("passwd", "change a password"), ("remove", "remove an account")):
        p = users_sub.add_parser(name, help=text)
        p.add_argument("name")
        if name != "remove":
            p.add_argument("--password-stdin", action="store_true", help="read the password as one line from stdin")
        if name == "add":
            p.add_argument("--admin", action="store_true", help="may export every user's preference data")
        p.set_defaults(func=cmd_users)
