"""The studio's one error tree, documented in one place.

It lives in the bottom layer (models/) because every layer raises these; ``studio.core.errors``
re-exports it. Foreign exceptions (httpx, xllamacpp, diffusers, SQLAlchemy ...) are
translated into these at the boundary, with a message that says what to set or start.

    StudioError            anything the studio raises on purpose
    ├── ConfigError        a setting is missing or wrong (message names the STUDIO_* variable)
    ├── ModelError         a chat / judge / image model cannot be reached or loaded
    │   ├── ModelUnavailable   weights or server absent: the feature is off, not broken
    │   ├── ModelUnreachable   the server could not be connected to (down, wrong URL, refused)
    │   └── ModelTimeout       the server was reached but did not answer in time
    ├── Cancelled          the caller stopped waiting (Stop pressed, or a run's time limit
    │                      passed) and the work was ended cleanly; not a fault of anything
    ├── ToolError          a tool could not be set up (a tool *run* failure is data, never this)
    ├── StorageError       the project store failed
    ├── NotFound           a project, article, block or version that does not exist or is not
    │                      the caller's (the same error for both: ids of others leak nothing)
    └── Refused            a request the studio will not do as asked (bad input, wrong state);
                           the message says what to do instead

The UI and the API catch ``StudioError`` only, and show its message; anything else is a bug and
reaches the one translator (``studio.app.failures.explain``), which logs its traceback and
shows "an unexpected error (logged as <id>)".

A tool's failure while running is never an exception: it is a ``ToolResult`` with ``ok=False``
and a readable ``error`` that ends up on the article's block.
"""


class StudioError(Exception):
    """Base of every error the studio raises on purpose."""


class ConfigError(StudioError):
    """A setting is missing or invalid; the message names the setting to change."""


class ModelError(StudioError):
    """A model backend failed (connection, protocol, loading)."""


class ModelUnavailable(ModelError):
    """A model is not available on this machine (no weights, no server)."""


class ModelUnreachable(ModelError):
    """A model server could not be connected to (raised at the HTTP boundary)."""


class ModelTimeout(ModelError):
    """A model server was reached but sent nothing within the read (or connect) timeout."""


class Cancelled(StudioError):
    """Work was ended on purpose: the user pressed Stop, or the run's time limit passed."""


class ToolError(StudioError):
    """A tool could not be constructed or configured."""


class StorageError(StudioError):
    """The project store failed."""


class NotFound(StudioError, KeyError):
    """A row (project, article, block, version, asset) is missing or belongs to another user.

    Also a ``KeyError``, so code that looks things up like a mapping keeps working; its text is
    the plain message (a bare KeyError would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class BlockGone(NotFound):
    """A block that is not (or no longer) in the article. Its message is for the writer, who
    never sees block ids (a block deleted in another tab is the usual cause); ``key`` and
    ``article_id`` keep them for logs and code."""

    MESSAGE = (
        "Block not found: it is no longer in this article (deleted, perhaps in another tab). "
        "Reload the page to see the article as it is now."
    )

    def __init__(self, key: str | None, article_id: int | None = None) -> None:
        super().__init__(self.MESSAGE)
        self.key, self.article_id = key, article_id


class Refused(StudioError, ValueError):
    """The studio will not do the request as asked (invalid input, nothing open, still writing);
    the message says what to do. Also a ``ValueError``, as input checks are elsewhere."""
