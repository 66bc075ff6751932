"""Which store a state target names: a path or sqlite:///FILE is SQLite, postgresql://… is PostgreSQL.

Apart from the drivers, so reading the config does not load them."""

from __future__ import annotations

import re
from pathlib import Path

from crisiswatch.errors import CrisiswatchError
from crisiswatch.indexurl import redact_url

SQLITE, POSTGRESQL = "sqlite", "postgresql"
_PG_SCHEMES = ("postgresql://", "postgres://")


def sqlite_path(target: str | Path) -> str | None:
    """The file of a SQLite target (a path or sqlite:///FILE, sqlite:////ABS), None for PostgreSQL."""
    text = str(target)
    if text.startswith(_PG_SCHEMES):
        return None
    if text.startswith("sqlite://"):
        rest = text[len("sqlite://"):]
        path = (rest[1:] if rest.startswith("/") else rest).split("?", 1)[0]
        if not path:
            raise CrisiswatchError(f"state URL {text!r} names no database file: use sqlite:///crisiswatch.db")
        return path
    if "://" in text:
        raise CrisiswatchError(f"unknown state store {redact_url(text)!r}: use sqlite:///FILE or "
                               "postgresql://USER@HOST/DBNAME")
    return text


def dialect_of(target: str | Path) -> str:
    return SQLITE if sqlite_path(target) is not None else POSTGRESQL


def without_password(url: str) -> str:
    """A state URL as it may be shown: the user stays (the command still runs), a password never does."""
    return re.sub(r"(?<=//)([^:/@?#]+):[^@/?#]*@", r"\1:***@", str(url))
