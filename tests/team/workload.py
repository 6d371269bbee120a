"""The 8-client block-action workload (team tests and bench/team_store.py).

Each client logs in, renders one article through ``/render`` (text, a chart, a search call that
becomes a placeholder at once because search is off, so its versions cost no tool time), then
makes ``actions`` block actions in a fixed cycle of five:

    1. /regenerate the chart with new code (a real sandbox run: a new image asset, now current)
    2. /accept the chart's current version
    3. /revert the chart to version 1
    4. /accept the first text block
    5. /regenerate the search block (same call again: still off, a placeholder kept as the
       block's candidate; it never replaces the current version)

Every action adds exactly one preference event, so the expected row counts follow from the
numbers of clients and actions (``expected``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gradio_client import Client

CHART = "plt.bar(['a', 'b'], [1, 2]); plt.title('{title}')"


def response_for(client: int) -> str:
    chart = {"source": "code", "description": f"Bars {client}", "params": {"code": CHART.format(title=f"c{client}")}}
    return (
        f"# Notes {client}\n\nSome text for client {client}.\n\n<imgen>{chart!r}</imgen>"
        "\n\nMore text.\n\n"
        "<imgen>{'source': 'search', 'description': 'A photo', 'params': {'query': 'tides'}}</imgen>\n\nThe end."
    )


@dataclass
class ClientRun:
    client: int
    user: str
    project_id: int | None = None
    article_id: int | None = None
    latencies: list[float] = field(default_factory=list)
    chart_versions: int = 1
    search_versions: int = 1


def article_json(outputs: Any) -> dict[str, Any]:
    """The API JSON output of the article endpoints (/render, /open_project: the second output;
    the block actions answer with it alone)."""
    return outputs[1] if isinstance(outputs, tuple | list) else outputs


def _timed(run: ClientRun, call: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    out = call()
    run.latencies.append(time.perf_counter() - start)
    return out


def run_client(url: str, client: int, user: str, password: str, actions: int) -> ClientRun:
    run = ClientRun(client, user)
    api = Client(url, auth=(user, password), verbose=False, httpx_kwargs={"timeout": 300})
    final = article_json(api.predict(f"brief {client}", response_for(client), "", api_name="/render"))
    run.project_id, run.article_id = final["project_id"], final["article_id"]
    kinds = [b["kind"] + ("" if b["kind"] == "text" else ":" + str(b["source"])) for b in final["article"]["blocks"]]
    assert kinds == ["text", "image:code", "text", "image:search", "text"], kinds
    for n in range(actions):
        step, cycle = n % 5, n // 5
        if step == 0:
            code = '{"code": "' + CHART.format(title=f"c{client}-{cycle}") + '"}'
            out = _timed(run, lambda code=code: api.predict("b2", "params", code, None, api_name="/regenerate"))
            run.chart_versions += 1
        elif step == 1:
            out = _timed(run, lambda: api.predict("b2", api_name="/accept"))
        elif step == 2:
            out = _timed(run, lambda: api.predict("b2", "1", api_name="/revert"))
        elif step == 3:
            out = _timed(run, lambda: api.predict("b1", api_name="/accept"))
        else:
            out = _timed(run, lambda: api.predict("b4", "again", "", None, api_name="/regenerate"))
            run.search_versions += 1
        assert article_json(out)["article_id"] == run.article_id
    api.close()
    return run


def expected(clients: int, actions: int) -> dict[str, int]:
    """Rows the store must hold after the workload (every action logs one preference event)."""
    charts_made = (actions + 4) // 5  # step 1 of every cycle begun
    return {
        "projects": clients,
        "articles": clients,
        "blocks": 5 * clients,
        "events": clients * actions,
        "chart_assets": clients * (1 + charts_made),
    }
