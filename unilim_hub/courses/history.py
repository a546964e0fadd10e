"""Who changed which course setting, and when: a small SQLite file in the service's state folder.

Not a group property: the history grows without bound, would travel with every group
read, and an admin editing the properties could rewrite it. Not the hub's database
either: its schema belongs to JupyterHub's migrations. The file lives where the service
keeps its state (``--state-dir``, on the hub's persistent volume in production).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS course_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course TEXT NOT NULL,
    author TEXT NOT NULL,
    at TEXT NOT NULL,
    changes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS course_changes_course ON course_changes (course, id);
"""


@dataclass(frozen=True)
class Entry:
    """One saved change: the author, when (UTC), and per key its value before and after."""

    author: str
    at: datetime
    changes: Mapping[str, tuple[Any, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "author": self.author,
            "at": self.at.isoformat(),
            "changes": {
                key: {"before": old, "after": new} for key, (old, new) in self.changes.items()
            },
        }


class History:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.executescript(_SCHEMA)

    def record(self, course: str, author: str, changes: Mapping[str, tuple[Any, Any]]) -> Entry:
        entry = Entry(author, datetime.now(UTC), dict(changes))
        self._db.execute(
            "INSERT INTO course_changes (course, author, at, changes) VALUES (?, ?, ?, ?)",
            (course, author, entry.at.isoformat(), json.dumps(changes)),
        )
        return entry

    def of(self, course: str, limit: int = 50) -> list[Entry]:
        """The course's latest changes, the newest first."""
        rows = self._db.execute(
            "SELECT author, at, changes FROM course_changes WHERE course = ?"
            " ORDER BY id DESC LIMIT ?",
            (course, limit),
        )
        return [
            Entry(
                author,
                datetime.fromisoformat(at),
                {k: tuple(v) for k, v in json.loads(changes).items()},
            )
            for author, at, changes in rows
        ]

    def close(self) -> None:
        self._db.close()
