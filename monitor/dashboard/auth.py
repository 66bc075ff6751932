"""Dashboard users, roles, password hashes, sessions and CSRF tokens.

Users come from `CRISISWATCH_USERS` ("name:role:hash,...") and/or a users file (one
"name:role:hash" per line, `CRISISWATCH_USERS_FILE`, default `dashboard-users.txt` beside the
state database). Hashes are PBKDF2-SHA256 with a per-user salt, written by `crisiswatch user add`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crisiswatch.errors import CrisiswatchError

ROLES = ("viewer", "agent", "admin")  # each role can do everything the ones before it can
PBKDF2_ITERATIONS = 240_000
USERS_ENV = "CRISISWATCH_USERS"
USERS_FILE_ENV = "CRISISWATCH_USERS_FILE"
SECRET_ENV = "CRISISWATCH_SECRET_KEY"


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt, digest = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _parse_user(line: str, where: str) -> User:
    parts = line.strip().split(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise CrisiswatchError(f"{where}: user entry must be NAME:ROLE:HASH")
    name, role, encoded = parts
    if role not in ROLES:
        raise CrisiswatchError(f"{where}: user {name!r} has unknown role {role!r} (use {', '.join(ROLES)})")
    return User(name, role, encoded)


def _file_users(path: Path | None) -> dict[str, User]:
    users: dict[str, User] = {}
    if path is not None and path.exists():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                user = _parse_user(line, f"{path}:{n}")
                users[user.name] = user
    return users


def _mtime(path: Path | None) -> float | None:
    try:
        return path.stat().st_mtime_ns if path is not None else None
    except FileNotFoundError:
        return None


class UserStore:
    """Users from the environment and a file; the environment wins for a name in both.

    The file is read again when it changes, so a password set with `serve --add-user` while the
    server runs takes effect (and ends the sessions opened with the old one) at once.
    """

    def __init__(self, users: dict[str, User] | None = None, path: Path | None = None,
                 fixed: dict[str, User] | None = None) -> None:
        self.path = path
        self.users: dict[str, User] = dict(users or {})
        self.fixed = dict(fixed or {})  # from the environment: not changeable from the dashboard
        self._seen = _mtime(path)

    @classmethod
    def load(cls, default_file: Path | None = None) -> UserStore:
        file_name = os.environ.get(USERS_FILE_ENV)
        path = Path(file_name) if file_name else default_file
        fixed = {}
        for entry in filter(None, (e.strip() for e in os.environ.get(USERS_ENV, "").split(","))):
            user = _parse_user(entry, USERS_ENV)
            fixed[user.name] = user
        return cls({**_file_users(path), **fixed}, path, fixed)

    def refresh(self) -> None:
        """Re-read the users file if it changed since it was read (one stat call otherwise)."""
        seen = _mtime(self.path)
        if seen != self._seen:
            self._seen = seen
            self.users = {**_file_users(self.path), **self.fixed}

    def get(self, name: str) -> User | None:
        self.refresh()
        return self.users.get(name)

    def authenticate(self, name: str, password: str) -> User | None:
        self.refresh()  # a password changed by `serve --add-user` in another process counts at once
        user = self.users.get(name)
        # hash even for unknown names so timing does not tell which names exist
        ok = verify_password(password, user.password_hash if user else _DUMMY_HASH)
        return user if user and ok else None

    def add(self, name: str, role: str, password: str) -> User:
        """Store (or replace) a user in the users file."""
        if role not in ROLES:
            raise CrisiswatchError(f"unknown role {role!r} (use {', '.join(ROLES)})")
        if not name or ":" in name or "," in name:
            raise CrisiswatchError(f"bad user name {name!r}: no ':' or ','")
        if self.path is None:
            raise CrisiswatchError("no users file configured")
        if name in self.fixed:
            raise CrisiswatchError(f"user {name!r} comes from {USERS_ENV}: change it there")
        user = User(name, role, hash_password(password))
        self.users[name] = user
        kept = []
        if self.path.exists():
            kept = [ln for ln in self.path.read_text(encoding="utf-8").splitlines()
                    if ln.strip() and ln.split(":", 1)[0] != name]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join([*kept, f"{name}:{role}:{user.password_hash}"]) + "\n", encoding="utf-8")
        os.chmod(self.path, 0o600)
        self._seen = _mtime(self.path)
        return user


_DUMMY_HASH = hash_password(secrets.token_urlsafe(8), iterations=PBKDF2_ITERATIONS)


def secret_key(warn: Callable[[str], object] = print) -> str:
    key = os.environ.get(SECRET_ENV)
    if key:
        return key
    warn(f"warning: {SECRET_ENV} is not set; using a random key (sessions end when the server stops)")
    return secrets.token_urlsafe(32)


def csrf_token(session: dict) -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(session: dict, submitted: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and submitted and hmac.compare_digest(expected, submitted))
