"""The team workload against one and two app processes, on SQLite (WAL) and on PostgreSQL 15.

    .venv/bin/python bench/team_store.py [--clients 8] [--actions 50]

Each configuration starts real app processes (``python -m studio serve``, accounts on, the
chart tool only) on a fresh store, then runs the block-action workload of
``tests/team/workload.py``: 8 gradio_client clients, each rendering one article and making 50
block actions (regenerate, accept, revert; every tenth a real chart run in the sandbox),
spread round-robin over the processes. PostgreSQL is a throwaway cluster from Debian's
binaries (``tests/pg.py``). It prints one table, all four configurations side by side: block
actions per second over the whole run (wall clock, all clients together), the median and p95
latency of one action as a client sees it, and the ratio of actions/s to one process on SQLite.
After each run the stored rows and files are counted against what the workload made.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import list_preference_events, open_store  # noqa: E402
from tests.pg import PostgresCluster  # noqa: E402
from tests.team.apps import AppProcess, add_users  # noqa: E402
from tests.team.workload import expected, run_client  # noqa: E402

USERS = {f"u{n}": f"password-{n}-long" for n in range(4)}


def run(processes: int, database: str, clients: int, actions: int, pg: PostgresCluster | None) -> dict[str, float]:
    tmp = tempfile.mkdtemp(prefix="llmi-bench-team-")
    try:
        return _run(Path(tmp), processes, database, clients, actions, pg)
    except BaseException:
        shutil.copytree(tmp, tmp + "-failed", dirs_exist_ok=True)
        for log in sorted(Path(tmp).glob("app-*.log")):  # the copy ("-failed") keeps them
            print(f"--- {log} (last lines)\n" + "\n".join(log.read_text().splitlines()[-15:]), file=sys.stderr)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(
    tmp: Path, processes: int, database: str, clients: int, actions: int, pg: PostgresCluster | None
) -> dict[str, float]:
    data_dir = tmp / "data"
    add_users(data_dir, USERS)
    url = pg.new_database("bench") if pg else None
    with ExitStack() as stack:
        apps = [stack.enter_context(AppProcess(data_dir, url)) for _ in range(processes)]
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            futures = [
                pool.submit(run_client, apps[n % processes].url, n, f"u{n % 4}", USERS[f"u{n % 4}"], actions)
                for n in range(clients)
            ]
            runs = [f.result() for f in futures]
        wall = time.perf_counter() - start
    store = open_store(url, data_dir)
    events = len(list_preference_events(store))
    store.close()
    if events != expected(clients, actions)["events"]:
        raise SystemExit(f"{processes} x {database}: {events} preference events, expected {expected(clients, actions)}")
    latencies = sorted(x for r in runs for x in r.latencies)
    return {
        "actions_per_s": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "wall_s": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--actions", type=int, default=50)
    parser.add_argument("--only", help="one configuration, e.g. 1:postgresql (default: all four)")
    args = parser.parse_args()
    results: dict[tuple[int, str], dict[str, float]] = {}
    with PostgresCluster() as pg:
        for database in ("sqlite", "postgresql"):
            for processes in (1, 2):
                if args.only and args.only != f"{processes}:{database}":
                    continue
                results[(processes, database)] = run(
                    processes, database, args.clients, args.actions, pg if database == "postgresql" else None
                )
                print(f"done: {processes} process(es), {database}: {results[(processes, database)]}", flush=True)
    base = results[(1, "sqlite")]["actions_per_s"] if (1, "sqlite") in results else float("nan")
    print(
        f"\n{args.clients} clients x {args.actions} block actions (each run includes the article render per client)\n"
    )
    print("| app processes | store | actions/s | p50 ms | p95 ms | actions/s vs 1 process on SQLite |")
    print("|---|---|---:|---:|---:|---:|")
    for (processes, database), r in results.items():
        print(
            f"| {processes} | {database} | {r['actions_per_s']:.1f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
            f"{r['actions_per_s'] / base:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
