"""Append-only results store keyed by job content hash (SQLite, one row per finished job).

A result is written the moment its job finishes, in its own transaction, so a run that is
killed at any point keeps every result it had and a rerun picks up where it stopped: jobs
whose key is present are not run again, and a key is never written twice (``INSERT OR
IGNORE``), so nothing is double counted.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable

from xpl.execution.job import Result

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    language TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    record TEXT NOT NULL
)
"""


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=60)
            self._opening("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._opening(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path}: not a usable xpl results store ({exc})") from exc

    def _opening(self, statement: str, patience: float = 60.0) -> None:
        """``statement`` on opening, retried while another process holds the file: switching a
        new file to WAL takes an exclusive lock, and SQLite answers "database is locked" at
        once there instead of waiting out the busy timeout (two seed processes of one run
        opening its store together met it)."""
        deadline = time.monotonic() + patience
        while True:
            try:
                self._db.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def get_many(self, keys: Iterable[str]) -> dict[str, Result]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, Result] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                rows = self._db.execute(
                    f"SELECT key, record FROM results WHERE key IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
                for key, record in rows:
                    found[key] = Result.from_dict(json.loads(record))
        return found

    def put(self, result: Result) -> None:
        record = result.to_dict()
        record.pop("id", None)
        record.pop("cached", None)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO results (key, language, status, created, record) VALUES (?, ?, ?, ?, ?)",
                (result.key, result.language, result.status.value, time.time(), json.dumps(record)),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
