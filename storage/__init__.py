"""The project store: SQLite (WAL) or any SQLAlchemy URL, assets as content-hash files.

Entry points: ``open_store`` (storage.db), ``ArticleRecorder`` (storage.recorder, persists the
engine's event stream), the repository functions in ``storage.repo`` (projects, articles, block
versions, ratings, the article's undo history of ``storage.history``) and ``export_preferences``
(storage.pref_export: the preference log as a dataset directory for TRL). storage/ imports nothing
of studio/ or tools/.
"""

from storage.db import Store, open_store
from storage.pref_export import count_preferences, export_preferences
from storage.pref_rows import Scope
from storage.prefs import list_preference_events
from storage.recorder import ArticleRecorder

__all__ = [
    "ArticleRecorder",
    "Scope",
    "Store",
    "count_preferences",
    "export_preferences",
    "list_preference_events",
    "open_store",
]
