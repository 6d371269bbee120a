"""Instructing the whole article (mixed into ``Session``): the writer revises it, the session
shows the revision as a per-block diff, and the user accepts all of it, some blocks or none.

``propose_revision`` streams the writer's answer (``studio.core.revision``: read like a written
article, no tool runs) and diffs it against the stored article (``studio.core.block_diff``).
``decide_revision`` applies the accepted blocks through the store's block functions, so each is
an ordinary version in the article's history: changed text is a rewrite version accepted or
discarded (a preference pair, with the instruction), added text an inserted block, removed
blocks soft deletes, a new image tag a new image block whose call runs on the tool runner only
now (an unchanged image keeps its picture: it has no step at all). The decision itself is one
preference event with the instruction and the article before, as answered and after.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from models.errors import Refused
from models.vocab import BlockStatus, note_written_params
from storage import repo
from studio.app.regenerate import regenerate_image
from studio.app.ui_model import ArticleView
from studio.core.agent import Brief, build_messages, chat_options
from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.block_diff import (
    Change,
    Piece,
    Step,
    UnknownChange,
    article_text,
    block_texts,
    diff_blocks,
    merge_plan,
    merged_pieces,
)
from studio.core.revision import current_pieces, read_revision, revision_guard, revision_messages

if TYPE_CHECKING:
    from storage.db import Store
    from studio.app.services import Services

MAX_INSTRUCTION_CHARS = 4000  # an instruction for the article, not a document
NOT_RUN_ENDED = "not made: the request ended before this image ran; Regenerate makes it"
Decision = Literal["accept_all", "per_block", "discard"]


@dataclasses.dataclass
class Proposal:
    """A revision waiting for the user's decision (one per session)."""

    instruction: str
    article_id: int
    before: str  # the article as the writer saw it (LLM-I text)
    changes: list[Change]
    revised: str = ""  # the writer's answer as read (text and tags)
    done: bool = False
    note: str = ""  # what the user should know (cut off, sentences removed by the guards)

    def decidable(self) -> list[Change]:
        return [c for c in self.changes if c.decidable]

    def to_json(self) -> dict[str, Any]:
        return {"instruction": self.instruction, "article_id": self.article_id, "done": self.done,
                "note": self.note, "changes": [change_json(c) for c in self.changes]}  # fmt: skip


def change_json(c: Change) -> dict[str, Any]:
    piece = c.new or c.old
    assert piece is not None
    return {
        "id": c.id, "op": c.op, "kind": c.kind, "block": c.old.block_id if c.old else None,
        "paragraph": c.old.part if c.old and c.kind == "text" else None,
        "text": piece.text if c.kind == "text" else "", "old_text": c.old.text if c.old and c.kind == "text" else "",
        "marks": [list(m) for m in c.marks()] if c.op == "changed" else [],
        "tag": piece.text if c.kind == "image" else "", "description": piece.description,
        "source": piece.source, "error": c.new.error if c.new else None,
    }  # fmt: skip


def parse_accept(text: str | Sequence[str], proposal: Proposal) -> tuple[set[str], Decision]:
    """``all``, ``none`` or change ids (``c2, c5``) as the accepted ids and the decision's name."""
    ids = [text] if isinstance(text, str) else list(text)
    words = [w for item in ids for w in str(item).replace(",", " ").split()]
    every = {c.id for c in proposal.decidable()}
    if words == ["all"]:
        return every, "accept_all"
    if words in (["none"], []):
        return set(), "discard"
    chosen = set(words)
    return chosen, "accept_all" if chosen == every else "per_block"


class RevisionActions:
    """Article-wide revision; the host (``Session``) provides the store, the article and reload."""

    revision: Proposal | None = None
    user: str

    if TYPE_CHECKING:  # what the host provides (declared for the type checker only)

        @property
        def store(self) -> Store: ...

        def reload(self) -> ArticleView: ...

        def services(self, options: Any = None) -> Services: ...

        def _article(self) -> tuple[int, Article]: ...

    def propose_revision(self, instruction: str) -> Iterator[Proposal]:
        """The writer's revision of the open article, streamed: partial diffs while it writes,
        then the whole diff (``done``), kept as ``self.revision`` for ``decide_revision``."""
        article_id, article = self._article()
        instruction = " ".join(instruction.split())
        if not instruction:
            raise Refused("write an instruction for the whole article first, e.g. 'use British spelling'")
        if len(instruction) > MAX_INSTRUCTION_CHARS:
            raise Refused(f"the instruction is {len(instruction):,} characters long; keep it under "
                          f"{MAX_INSTRUCTION_CHARS:,} (it says what to change, not the new text)")  # fmt: skip
        services = self.services()
        style = str(repo.open_article(self.store, article_id, self.user).settings.get("style") or "")
        brief = Brief(article.brief or "the article", style=style)
        system = build_messages(brief, services)[0]["content"]
        messages = revision_messages(str(system), article, instruction)
        before = article.to_llmi_text()
        limits = services.limits
        # the writer's own options (a small local model keeps its grammar: only valid tags); the
        # whole article comes back, so room for it and as much again (a section added)
        options = dataclasses.replace(chat_options(brief, services), max_tokens=max(limits.max_tokens,
                                      len(before) // 2 + 512))  # fmt: skip
        old = current_pieces(article)
        self.revision = None
        chunks = services.backend.stream(messages, options)
        guard = revision_guard(messages, article, instruction) if limits.guards else None
        for read in read_revision(chunks, article, guard=guard):
            proposal = Proposal(instruction, article_id, before, diff_blocks(old, read.pieces))
            if read.done is None:
                yield proposal
                continue
            done = read.done
            if done.error and not read.pieces:
                raise Refused(f"the writer did not answer: {done.error}; the article is unchanged")
            if not any(p.text.strip() for p in read.pieces):
                raise Refused("the writer's answer was empty; the article is unchanged: try again or reword it")
            proposal.revised, proposal.done = done.article.to_llmi_text(), True
            proposal.note = _note(done.error, done.cut_off, done.article.guard_note())
            self.revision = proposal
            yield proposal

    def decide_revision(self, accept: str | Sequence[str]) -> Iterator[ArticleView]:
        """Apply the accepted blocks (``all``, ``none`` or change ids); yields the view after the
        text and shape changes, then after each new image ran."""
        proposal = self.revision
        article_id, article = self._article()
        if proposal is None or not proposal.done or proposal.article_id != article_id:
            raise Refused("there is no revision of this article to decide on: give an instruction first")
        if article.to_llmi_text() != proposal.before:
            raise Refused("the article changed since this revision was written: ask for the revision again")
        accepted, decision = parse_accept(accept, proposal)
        try:
            steps = merge_plan(proposal.changes, accepted)
        except UnknownChange as exc:
            raise Refused(str(exc)) from None
        self.revision = None
        pictures = _pictures_by_call(article)  # taken before the steps: a moved image keeps its picture
        images = self._apply_revision(article_id, article, proposal, steps, accepted, decision)
        try:
            yield self.reload()
            while images:
                key, version_id, piece = images[0]
                shown = next((pictures[k] for k in piece.keys if k in pictures), None)
                if shown is not None:
                    self._reuse_image(version_id, shown)
                else:
                    self._run_new_image(article_id, key, version_id)
                images.pop(0)
                yield self.reload()
        finally:  # the request ended (the tab closed): what did not run says so on its block
            for _, version_id, _ in images:
                repo.finish_image_version(self.store, version_id, status=BlockStatus.FAILED, error=NOT_RUN_ENDED,
                                          owner=self.user)  # fmt: skip

    def _apply_revision(
        self, article_id: int, article: Article, p: Proposal, steps: list[Step], accepted: set[str], decision: Decision
    ) -> list[tuple[str, int, Piece]]:
        """Every store change of one decision; returns the new image blocks still to run."""
        store, owner = self.store, self.user
        self._record_text_choices(article_id, article, p, accepted, decision)
        made: dict[str, str] = {}  # an inserted block's step key -> its stored key
        images: list[tuple[str, int, Piece]] = []
        for step in steps:
            after = None if step.after is None else (step.after[1] if step.after[0] == "block" else made[step.after[1]])
            if step.op == "insert_text":
                made[step.key] = repo.insert_text_block(store, article_id, after, step.text.strip() + "\n\n", owner)
            elif step.op == "insert_image" and step.piece is not None:
                made[step.key], version_id = _insert_image(store, article_id, after, step.piece, p.instruction, owner)
                if step.piece.error is None:
                    images.append((made[step.key], version_id, step.piece))
            elif step.op == "delete" and step.block_id is not None:
                repo.delete_block(store, article_id, step.block_id, owner)
        merged = article_text(merged_pieces(p.changes, accepted))
        revision = {
            "instruction": p.instruction, "decision": decision, "before": p.before, "revised": p.revised,
            "after": merged, "note": p.note,
            "changes": [{**change_json(c), "accepted": c.id in accepted, "new_block": made.get(c.id)}
                        for c in p.decidable()],
        }  # fmt: skip
        repo.log_revision(store, article_id, revision, accepted=bool(accepted), owner=owner)
        return images

    def _record_text_choices(
        self, article_id: int, article: Article, p: Proposal, accepted: set[str], decision: Decision
    ) -> None:
        """Each stored text block the revision would change gets the new text as a rewrite version
        (with the instruction): accepted where the user took any of its changes (the merged
        text), else discarded (the writer's whole proposal for it): one preference pair each."""
        store, owner = self.store, self.user
        original = block_texts(p.changes, [])
        merged = block_texts(p.changes, accepted)
        proposed = block_texts(p.changes, [c.id for c in p.decidable()])
        for key, text in original.items():
            ids = [c.id for c in p.decidable() if c.old is not None and c.old.block_id == key]
            extra = {"revision": {"instruction": p.instruction, "decision": decision, "changes": ids}}
            old = article.block(key)
            old_text = old.text if isinstance(old, TextBlock) else ""
            kept, offered = merged[key], proposed[key]
            if kept is not None and kept != text:
                candidate = repo.add_text_version(store, article_id, key, _keep_spacing(old_text, kept),
                                                  instruction=p.instruction, candidate=True, owner=owner)  # fmt: skip
                repo.accept_version(store, article_id, key, candidate.number, owner=owner, extra=extra)
            elif kept == text and offered not in (None, text):
                repo.add_text_version(store, article_id, key, _keep_spacing(old_text, offered or ""),
                                      instruction=p.instruction, candidate=True, owner=owner)  # fmt: skip
                repo.discard_candidate(store, article_id, key, owner, extra=extra)

    def _reuse_image(self, version_id: int, shown: ImageBlock) -> None:
        """A new tag with the very call of an image the article shows (the writer moved or repeated
        it): the picture is copied onto the new block, not made again."""
        repo.finish_image_version(
            self.store, version_id, status=BlockStatus.OK, image=shown.image, mime=shown.mime,
            provenance={**shown.provenance, "reused_from": shown.id}, params=shown.params, seconds=0.0,
            owner=self.user,
        )  # fmt: skip

    def _run_new_image(self, article_id: int, key: str, version_id: int) -> None:
        """A new tag's call on the tool runner (its block was stored queued); the result goes on
        that same version, as the engine's results do."""
        self.reload()
        _, article = self._article()
        block = article.block(key)
        assert isinstance(block, ImageBlock)
        style = str(repo.open_article(self.store, article_id, self.user).settings.get("style") or "")
        new = regenerate_image(article, key, self.services(), mode="params", params=block.params, style=style)
        r, outcome = new.result, new.outcome
        provenance = note_written_params(r.provenance, new.written_params, new.params) or {}
        repo.finish_image_version(
            self.store, version_id, status=outcome.status, error=outcome.error,
            image=r.image if outcome.ok else None, mime=r.mime, provenance=provenance, params=new.params,
            seconds=r.seconds, owner=self.user,
        )  # fmt: skip


def _pictures_by_call(article: Article) -> dict[str, ImageBlock]:
    """The article's images that came out ok, by each key of their call (``block_diff.call_key``)."""
    out: dict[str, ImageBlock] = {}
    for piece in current_pieces(article):
        block = article.block(piece.block_id) if piece.kind == "image" and piece.block_id else None
        if isinstance(block, ImageBlock) and block.status == BlockStatus.OK and block.image:
            out.update(dict.fromkeys(piece.keys, block))
    return out


def _insert_image(store: Store, article_id: int, after: str | None, piece: Piece, instruction: str,
                  owner: str) -> tuple[str, int]:  # fmt: skip
    status = BlockStatus.INVALID if piece.error is not None else BlockStatus.QUEUED
    return repo.insert_image_block(
        store, article_id, after, source=piece.source, description=piece.description, params=piece.params,
        raw=piece.text, status=status, error=piece.error, instruction=instruction, owner=owner,
    )  # fmt: skip


def _keep_spacing(old: str, new: str) -> str:
    """The new text with the old block's leading and trailing spacing (blocks do not run together)."""
    lead = old[: len(old) - len(old.lstrip())]
    trail = old[len(old.rstrip()) :] or "\n\n"
    return lead + new.strip() + trail


def _note(error: str | None, cut_off: bool, removed: str) -> str:
    notes = []
    if error:
        notes.append(f"the writer stopped early ({error}): blocks after its last one show as removed")
    if cut_off:
        notes.append("the writer stopped at its token limit: the end of its answer is missing, so blocks after "
                     "it show as removed (accept blocks one by one)")  # fmt: skip
    if removed:
        notes.append(removed)
    return "; ".join(notes)
