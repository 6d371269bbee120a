"""Candidate ranking: the real MiniLM model, search over a real HTTP server on 127.0.0.1 with an
injected searcher (the live web cannot run here), diffusion seeds with a tiny real pipeline,
and a scripted OpenAI-compatible judge over real HTTP."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from models.judge import Judge
from studio.quality.ranking import BestOfSeedsTool, RankedSearchTool, TextRanker, pick_by_scores, rank_hits
from tests.httpserver import LocalServer
from tests.judge_server import JudgeServer, closed_port_url, image_judgement, image_parts_of
from tests.tiny_pipelines import tiny_text2image_dir
from tools.base import ToolContext
from tools.diffusion import DiffusionTool
from tools.params import DiffusionParams, SearchParams
from tools.search import SearchHit, SearchTool


@pytest.fixture(scope="module")
def ranker() -> TextRanker:
    return TextRanker()


def png(color: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def test_minilm_puts_the_relevant_title_first(ranker: TextRanker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hits = [
        SearchHit("http://x/1.jpg", title="Bowl of ramen noodles with egg"),
        SearchHit("http://x/2.jpg", title="Golden retriever puppy on grass"),
        SearchHit("http://x/3.jpg", title="The Eiffel Tower lit up at night, Paris"),
        SearchHit("http://x/4.jpg", page_url="http://x/travel/eiffel-tower-paris-night-photo"),
    ]
    ranked = rank_hits("Eiffel Tower at night", hits, ranker)
    assert ranked[0].original_index == 2
    assert {ranked[0].original_index, ranked[1].original_index} == {2, 3}  # URL words count when no title
    assert ranked[0].similarity > 0.5 > ranked[-1].similarity


@pytest.fixture
def image_site() -> Iterator[LocalServer]:
    with LocalServer() as server:
        server.route("/ramen.png", headers={"Content-Type": "image/png"}, body=png((200, 50, 50)))
        server.route("/fox.png", headers={"Content-Type": "image/png"}, body=png((220, 120, 20)))
        server.route("/fox2.png", headers={"Content-Type": "image/png"}, body=png((230, 130, 30)))
        yield server


def searcher_for(server: LocalServer):  # noqa: ANN201 - a tools.search.Searcher
    calls: list[tuple[str, int]] = []

    def search(query: str, n: int) -> list[SearchHit]:
        calls.append((query, n))
        return [
            SearchHit(server.url("/ramen.png"), server.url("/food"), "Spicy ramen bowl recipe"),
            SearchHit(server.url("/fox.png"), server.url("/wild"), "Red fox standing in the snow"),
            SearchHit(server.url("/fox2.png"), server.url("/wild2"), "A red fox hunting in winter snow"),
        ][:n]

    search.calls = calls  # type: ignore[attr-defined]
    return search


def test_ranked_search_downloads_the_most_relevant_hit(image_site: LocalServer, ranker: TextRanker) -> None:
    base = SearchTool(searcher=searcher_for(image_site), allow_private={"127.0.0.0/8"}, max_results=3)
    plain = base.run(SearchParams(query="red fox in snow"), ToolContext())
    assert plain.ok and plain.provenance["title"] == "Spicy ramen bowl recipe"  # search order: the first hit

    tool = RankedSearchTool(base, ranker, k=3)
    result = tool.run(SearchParams(query="red fox in snow"), ToolContext())
    assert result.ok, result.error
    prov = result.provenance
    assert "fox" in prov["title"].lower() and prov["search_rank"] in (1, 2)
    assert prov["ranking"]["candidates"] == 3 and "no image judge" in prov["ranking"]["selection"]
    assert image_site.requests.count("/ramen.png") == 1  # only the plain run fetched the irrelevant one
    # the next hit (regenerate) continues down the ranking, not the search order
    second = tool.run(SearchParams(query="red fox in snow"), ToolContext(result_offset=prov["hit_index"] + 1))
    assert second.ok and "fox" in second.provenance["title"].lower() and second.image != result.image


def test_ranked_search_lets_the_image_judge_pick(image_site: LocalServer, ranker: TextRanker) -> None:
    # the judge prefers the second image it is shown
    with JudgeServer([image_judgement(2, 2, 2), image_judgement(5, 5, 4)]) as judge_srv:
        judge = Judge(judge_srv.url, timeout_s=10, retries=0)
        base = SearchTool(searcher=searcher_for(image_site), allow_private={"127.0.0.0/8"}, max_results=3)
        tool = RankedSearchTool(base, ranker, k=3, image_judge=judge, judge_top=2, prompt="a guide to foxes")
        result = tool.run(SearchParams(query="red fox in snow"), ToolContext())
        shown = [image_parts_of(body) for body in judge_srv.requests]
        judge.close()
    assert result.ok
    ranking = result.provenance["ranking"]
    assert "judge picked 2 of 2" in ranking["selection"]
    assert [j["score"] for j in ranking["judged"]] == [2.0, pytest.approx(4.6667, abs=1e-3)]
    assert len(shown) == 2 and all(len(urls) == 1 for urls in shown)
    assert result.provenance["hit_index"] == ranking["judged"][1]["hit_index"]


def test_pick_by_scores_keeps_the_first_when_nothing_was_judged() -> None:
    assert pick_by_scores([None, None]) == (0, "image judge unavailable: kept the first candidate")
    assert pick_by_scores([3.0, None, 4.0, 4.0])[0] == 2


@pytest.fixture(scope="module")
def diffusion() -> Iterator[DiffusionTool]:
    tool = DiffusionTool(str(tiny_text2image_dir()), steps=1, size=64, device="cpu", allow_downloads=False)
    yield tool
    tool.close()


def test_diffusion_tries_k_seeds_and_the_judge_keeps_the_best(diffusion: DiffusionTool) -> None:
    params = DiffusionParams(prompt="a lighthouse in a storm")
    with JudgeServer([image_judgement(2, 3, 2), image_judgement(5, 5, 5), image_judgement(3, 3, 3)]) as srv:
        judge = Judge(srv.url, timeout_s=10, retries=0)
        result = BestOfSeedsTool(diffusion, k=3, image_judge=judge).run(params, ToolContext(seed=10, style="ink"))
        sent = [image_parts_of(body)[0] for body in srv.requests]
        judge.close()
    assert result.ok
    seeds = result.provenance["seeds"]
    assert seeds["tried"] == 3 and [c["seed"] for c in seeds["candidates"]] == [10, 11, 12]
    assert result.provenance["seed"] == 11 and "judge picked 2 of 3" in seeds["selection"]
    assert result.provenance["prompt"] == "a lighthouse in a storm, ink"  # the style reached every seed
    again = diffusion.run(params, ToolContext(seed=11, style="ink"))
    assert again.image == result.image  # the kept image is reproducible from its recorded seed
    assert len(set(sent)) == 3  # three different images were shown


def test_diffusion_without_a_judge_runs_once_and_says_so(diffusion: DiffusionTool) -> None:
    result = BestOfSeedsTool(diffusion, k=4).run(DiffusionParams(prompt="a red kite"), ToolContext(seed=5))
    assert result.ok and result.provenance["seed"] == 5
    assert result.provenance["seeds"] == {"tried": 1, "selection": "no image judge configured: kept the first seed"}


def test_unreachable_judge_keeps_the_first_seed(diffusion: DiffusionTool) -> None:
    judge = Judge(closed_port_url(), timeout_s=2, retries=0)
    result = BestOfSeedsTool(diffusion, k=2, image_judge=judge).run(
        DiffusionParams(prompt="a red kite"), ToolContext(seed=5)
    )
    judge.close()
    assert result.ok and result.provenance["seed"] == 5
    assert result.provenance["seeds"]["selection"] == "image judge unavailable: kept the first candidate"
    assert json.dumps(result.provenance)  # provenance stays JSON (it is stored and exported)
    assert hashlib.sha256(result.image).hexdigest()


def test_ranker_reports_a_missing_model_dir(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="modules.json|No such file|not found|does not exist|Path"):
        TextRanker(tmp_path / "nowhere").similarities("q", ["t"])
