"""What a session does to one block of its open article (mixed into ``Session``).

Every action goes to the store first and then reloads the view from it. Image attempts that
fail stay candidates beside the working image (``storage.versions``); a model's rewrite is a
candidate shown as a diff until it is accepted or discarded; a manual edit, a caption, an
uploaded image are versions like any other, so history, revert and the preference log see them.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from models.block_names import capitalised, name_for
from models.errors import Refused
from models.vocab import ArticleStatus, BlockStatus, Source, block_status, note_written_params
from storage import repo
from storage.views import VersionInfo
from studio.app.regenerate import MAX_SEED, Mode, Regenerated, dependent_edits, regenerate_image, rewrite_text
from studio.app.ui_model import ArticleView
from studio.app.uploads import check_image
from studio.core.article import Article, ImageBlock, TextBlock
from studio.core.chart_data import chart_data

if TYPE_CHECKING:
    from storage.db import Store
    from studio.app.services import Services
    from studio.app.session import Studio


class BlockActions:
    """Block actions; the host (``Session``) provides the store, the open article and reload."""

    article_id: int | None
    article: Article | None
    view: ArticleView
    user: str  # every store call passes it: another user's article is NotFound, like a missing one
    studio: Studio  # its settings (STUDIO_TYPING_MERGE_S)

    if TYPE_CHECKING:  # what the host provides (declared for the type checker only)

        @property
        def store(self) -> Store: ...

        def reload(self) -> ArticleView: ...

        def services(self, options: Any = None) -> Services: ...

        def ranked_regenerations(
            self, article: Article, block_id: str, run: Callable[[int], Regenerated], first_seed: int
        ) -> tuple[list[Regenerated], str]: ...

    def _article(self) -> tuple[int, Article]:
        if self.article_id is None or self.article is None:
            raise Refused("no article is open: write one first")
        if getattr(self, "writing", False) or self.view.elsewhere:
            raise Refused("the article is still being written: stop it or wait until it is done")
        return self.article_id, self.article

    def _image_block(self, block_id: str) -> ImageBlock:
        _, article = self._article()
        block = article.block(block_id)
        if not isinstance(block, ImageBlock):
            raise Refused(f"{capitalised(name_for(block))} is a text block")
        return block

    # --- images --------------------------------------------------------------------------------
    def regenerate(
        self,
        block_id: str,
        mode: Mode = "again",
        *,
        params: dict[str, Any] | None = None,
        source: str | None = None,
        description: str | None = None,
        seed: int | None = None,
        code_from: str = "",
    ) -> ArticleView:
        """A new version of one image block (see studio.app.regenerate). When it comes out ok it
        becomes current; when it fails it is shown beside the current image as a candidate."""
        article_id, article = self._article()
        style = str(repo.open_article(self.store, article_id, self.user).settings.get("style") or "")

        def run(attempt_seed: int | None) -> Regenerated:
            return regenerate_image(
                article,
                block_id,
                self.services(),
                mode=mode,
                params=params,
                source=source,
                description=description,
                seed=attempt_seed,
                style=style,
                code_from=code_from,
            )

        if self._varies_with_seed(article, block_id, mode):
            # K candidates ranked by the user's taste model (STUDIO_TASTE_CANDIDATES; studio.app.taste_session)
            attempts, note = self.ranked_regenerations(article, block_id, run, seed or random.randint(0, MAX_SEED - 8))
        else:
            attempts, note = [run(seed)], ""
        merge_key = f"regenerate-{block_id}-{random.getrandbits(48):x}"  # the K candidates: one history step
        for n, new in enumerate(attempts, 1):
            # every candidate stems from the version shown before and only the last (the best-ranked)
            # becomes current: an accept then pairs it with what the user saw, never with a
            # candidate the taste model ranked below it that the user was not shown
            self._record_regenerated(article_id, block_id, new, seed, current=None if n == len(attempts) else False,
                                     merge_key=merge_key)  # fmt: skip
        view = self.reload()
        if note and view.blocks:
            with contextlib.suppress(KeyError):
                view.block(block_id).notice = note
        return view

    def _varies_with_seed(self, article: Article, block_id: str, mode: Mode) -> bool:
        """Whether "again" can give a different picture each time (worth K candidates): a new seed
        for diffusion and edit; a chart drawn anew from its data, or new chart code when the
        backend writes it (studio.app.regenerate). A chart with neither runs the same code (K
        identical charts); search takes the next hit instead."""
        block = article.block(block_id)
        if mode != "again" or not isinstance(block, ImageBlock):
            return False
        if block.source == Source.CODE:
            return bool(chart_data(str(block.params.get("code") or ""))) or self.services().two_phase_code
        return block.source in (Source.DIFFUSION, Source.EDIT)

    def _record_regenerated(
        self,
        article_id: int,
        block_id: str,
        new: Regenerated,
        seed: int | None,
        *,
        current: bool | None = None,
        merge_key: str | None = None,
    ) -> None:
        r = new.result
        provenance = dict(r.provenance)
        if seed is not None:
            provenance["seed"] = r.provenance.get("seed", seed)
        # a tool filled the call in (chart code): keep the call as made
        provenance = note_written_params(provenance, new.written_params, new.params) or {}
        outcome = new.outcome
        repo.add_image_version(
            self.store,
            article_id,
            block_id,
            source=new.source,
            description=new.description,
            params=new.params,
            status=outcome.status,
            error=outcome.error,
            image=r.image if outcome.ok else None,
            mime=r.mime,
            provenance=provenance,
            seconds=r.seconds,
            instruction=new.instruction,
            current=current,
            owner=self.user,
            merge_key=merge_key,
        )

    def stale_edits(self, block_id: str) -> list[str]:
        """Edit blocks made from this block's image (re-run them after it changed)."""
        _, article = self._article()
        return [b.id for b in dependent_edits(article, block_id)]

    def replace_image(self, block_id: str, data: bytes, name: str = "the file") -> ArticleView:
        """The user's own image in place of the block's (checked with Pillow first)."""
        article_id, _ = self._article()
        block = self._image_block(block_id)
        mime = check_image(data, name)
        repo.add_image_version(
            self.store,
            article_id,
            block_id,
            source=block.source or Source.SEARCH,
            description=block.description,
            params=block.params,
            status=BlockStatus.OK,
            image=data,
            mime=mime,
            provenance={
                "origin": "upload",  # the credit follows the version's origin: "supplied by the author"
                "uploaded": name[:200],
                "alt": block.provenance.get("alt", ""),
                **({"filled": block.status} if block.status == BlockStatus.PLACEHOLDER else {}),
            },
            instruction="the user's own image",
            origin="upload",
            owner=self.user,
        )
        return self.reload()

    def caption(self, block_id: str, caption: str, alt: str = "") -> ArticleView:
        """New caption (the description) and alt text; the image itself is kept."""
        article_id, _ = self._article()
        block = self._image_block(block_id)
        caption = " ".join(caption.split())
        if not caption:
            raise Refused("a caption cannot be empty")
        current = repo.open_article(self.store, article_id, self.user).block(block_id).current
        repo.add_image_version(
            self.store,
            article_id,
            block_id,
            source=current.source or block.source or Source.SEARCH,
            description=caption[:500],
            params=current.params or {},
            status=block_status(current.status),
            error=current.error,
            mime=current.asset.mime if current.asset else "image/png",
            asset_sha256=current.asset.sha256 if current.asset else None,
            provenance={**(current.provenance or {}), "alt": " ".join(alt.split())[:500]},
            seconds=current.seconds,
            instruction="caption",
            origin="caption",
            current=True,
            keep_accepted=True,  # a new caption or alt text relabels the image the user accepted
            owner=self.user,
        )
        return self.reload()

    # --- text ----------------------------------------------------------------------------------
    def rewrite(self, block_id: str, instruction: str = "", *, seed: int | None = None) -> ArticleView:
        """The model's rewrite, kept as a candidate beside the text (accept or discard it)."""
        article_id, article = self._article()
        text = rewrite_text(article, block_id, self.services(), instruction, seed=seed)
        repo.add_text_version(
            self.store, article_id, block_id, text, instruction=instruction or None, candidate=True, owner=self.user
        )
        return self.reload()

    def edit_text(self, block_id: str, text: str, *, typing_merge_s: float = 0.0) -> ArticleView:
        """The user's own text for a block: a version, and a preference for it over the old text.
        ``typing_merge_s``: an autosave (``save_text``) that may join the block's typing burst
        (storage.typing_bursts); an explicit edit (0) is always a step of its own."""
        article_id, article = self._article()
        block = article.block(block_id)
        if not isinstance(block, TextBlock):
            raise Refused(f"{capitalised(name_for(block))} is an image block: edit its call or caption instead")
        if not text.strip():
            raise Refused("the text is empty: delete the block instead")
        if text.strip() == block.text.strip():
            raise Refused("nothing changed")
        lead = block.text[: len(block.text) - len(block.text.lstrip())]
        trail = block.text[len(block.text.rstrip()) :] or "\n\n"
        repo.add_text_version(self.store, article_id, block_id, lead + text.strip() + trail, manual=True,
                              owner=self.user, typing_merge_s=typing_merge_s)  # fmt: skip
        return self.reload()

    def save_text(self, block_id: str, text: str, *, article: int | None = None) -> ArticleView:
        """The in-place editor's autosave: like ``edit_text`` (a version, logged as the user's
        edit), but text equal to the stored one is no new version and no error: the editor may
        send what the store already has (a save racing a reload). ``article``: the article the
        text was typed in. A save that arrives after the tab opened another article is stored in
        its own article (never in the open one's block of the same key), so typing is not lost
        by switching articles within the autosave pause."""
        if article is not None and article != self.article_id:
            self._save_elsewhere(article, block_id, text)
            return self.view
        _, open_article = self._article()
        block = open_article.block(block_id)
        if isinstance(block, TextBlock) and text.strip() == block.text.strip():
            return self.view
        return self.edit_text(block_id, text, typing_merge_s=self._typing_merge_s())

    def _typing_merge_s(self) -> float:
        """STUDIO_TYPING_MERGE_S: autosaves of one block this close together are one edit."""
        return float(self.studio.settings.typing_merge_s)

    def _save_elsewhere(self, article_id: int, block_id: str, text: str) -> None:
        """``save_text`` for an article this session no longer shows (owner-checked by the store)."""
        stored = repo.open_article(self.store, article_id, self.user)
        if stored.status == ArticleStatus.RUNNING:
            raise Refused(f"article {article_id} is being written: your text was not saved")
        block = stored.block(block_id)
        if block.kind != "text":
            raise Refused(f"{capitalised(name_for(block.current))} is an image block: edit its call or caption instead")
        old = block.current.text or ""
        if not text.strip() or text.strip() == old.strip():
            return
        trail = old[len(old.rstrip()) :] or "\n\n"
        lead = old[: len(old) - len(old.lstrip())]
        repo.add_text_version(self.store, article_id, block_id, lead + text.strip() + trail, manual=True,
                              owner=self.user, typing_merge_s=self._typing_merge_s())  # fmt: skip

    # --- choices -------------------------------------------------------------------------------
    def accept(self, block_id: str, number: int | None = None) -> ArticleView:
        article_id, _ = self._article()
        repo.accept_version(self.store, article_id, block_id, number, owner=self.user)
        return self.reload()

    def discard(self, block_id: str) -> ArticleView:
        """Keep the current version over the block's candidate."""
        article_id, _ = self._article()
        repo.discard_candidate(self.store, article_id, block_id, self.user)
        return self.reload()

    def revert(self, block_id: str, number: int) -> ArticleView:
        article_id, _ = self._article()
        repo.revert_version(self.store, article_id, block_id, number, self.user)
        return self.reload()

    def versions(self, block_id: str) -> list[VersionInfo]:
        article_id, _ = self._article()
        return repo.list_versions(self.store, article_id, block_id, self.user)

    # --- the article's history (storage.history) ------------------------------------------------
    def undo(self) -> str:
        """Take back the newest change to the article (any tab's); what it was, in words."""
        article_id, _ = self._article()
        step = repo.undo(self.store, article_id, self.user)
        self._show_step(step.blocks)
        return f"Undone: {step.label}."

    def redo(self) -> str:
        article_id, _ = self._article()
        step = repo.redo(self.store, article_id, self.user)
        self._show_step(step.blocks)
        return f"Redone: {step.label}."

    def _show_step(self, keys: tuple[str, ...]) -> None:
        """Reload; a step that changed one block still shown names it, so its outcome is shown
        next to it (the page scrolls there: the change may be far from where the writer is)."""
        view = self.reload()
        shown = {b.id for b in view.blocks}
        live = [k for k in keys if k in shown]
        view.history_block = live[0] if len(keys) == 1 and live else ""

    def history_labels(self, view: ArticleView) -> None:
        """What Undo and Redo would do, on the view (read from the store: the history is shared by
        every tab on the article and survives reloads)."""
        if view.article_id is None:
            return
        state = repo.history_state(self.store, view.article_id, self.user)
        view.undo_label = state.undo.label if state.undo else ""
        view.redo_label = state.redo.label if state.redo else ""

    # --- the article's shape -------------------------------------------------------------------
    def insert_text(self, after: str | None, text: str) -> str:
        article_id, _ = self._article()
        key = repo.insert_text_block(self.store, article_id, after, text.strip() + "\n\n", self.user)
        self.reload()
        return key

    def delete_block(self, block_id: str) -> ArticleView:
        article_id, _ = self._article()
        repo.delete_block(self.store, article_id, block_id, self.user)
        return self.reload()

    def restore_block(self, block_id: str) -> ArticleView:
        article_id, _ = self._article()
        repo.restore_block(self.store, article_id, block_id, self.user)
        return self.reload()

    def move(self, block_id: str, offset: int) -> ArticleView:
        article_id, _ = self._article()
        repo.move_block(self.store, article_id, block_id, offset, self.user)
        return self.reload()
