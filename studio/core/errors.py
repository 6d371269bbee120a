"""Re-export of the error tree (defined in models.errors, the bottom layer)."""

from models.errors import (
    ConfigError,
    ModelError,
    ModelUnavailable,
    NotFound,
    Refused,
    StorageError,
    StudioError,
    ToolError,
)

__all__ = [
    "ConfigError",
    "ModelError",
    "ModelUnavailable",
    "NotFound",
    "Refused",
    "StorageError",
    "StudioError",
    "ToolError",
]
