"""A throwaway PostgreSQL cluster for tests and the bench: Debian's own ``initdb`` / ``pg_ctl``.

    with PostgresCluster() as pg:
        url = pg.new_database()          # postgresql+psycopg://postgres@127.0.0.1:PORT/t1

The cluster lives in a fresh temp folder on a free port on 127.0.0.1 (trust authentication,
reachable only from this machine) and is stopped and removed afterwards. PostgreSQL refuses
to run as root, so under root the cluster is owned by, and run as, the ``postgres`` system user
(created by Debian's postgresql package) through ``runuser``. ``fsync=off``: the tests kill app
processes, never the machine, and a process crash loses nothing committed either way.

``find_bin_dir()`` says where the binaries are or why there are none; the tests skip with that
reason only where they are absent (and fail instead when ``STUDIO_REQUIRE_POSTGRES=1``, as in CI).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

MISSING = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql-15 (Debian)"


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps them off PATH), or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for folder in [*candidates, *(str(Path(p).parent) for p in [shutil.which("initdb")] if p)]:
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    def __init__(self) -> None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise RuntimeError(MISSING)
        self.bin_dir = bin_dir
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="llmi-pg-"))
        self.data = self.root / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise RuntimeError("running as root needs the 'postgres' system user (Debian's postgresql)") from exc
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._names = itertools.count(1)

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stdout}\n{done.stderr}")

    def start(self) -> PostgresCluster:
        self._run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--locale=C")  # fmt: skip
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")  # fmt: skip
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self._as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                            "-w", "stop"], capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """A new, empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}{next(self._names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self) -> PostgresCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


try:  # the pytest fixture (tests/storage and tests/team import it into their conftest)
    import pytest
except ImportError:  # pragma: no cover - the bench runs without pytest
    pass
else:

    @pytest.fixture(scope="session")
    def pg_cluster() -> Iterator[PostgresCluster]:
        if find_bin_dir() is None:
            if os.environ.get("STUDIO_REQUIRE_POSTGRES") == "1":
                pytest.fail(MISSING)
            pytest.skip(MISSING)
        with PostgresCluster() as cluster:
            yield cluster
