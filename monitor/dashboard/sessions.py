"""Server-side dashboard sessions and login throttling, kept in the state database.

The browser's (signed) cookie carries only a random token; the session itself is a row keyed by the
token's SHA-256, so logout, a password change or an admin's revoke end it at once, wherever the cookie
was copied to. A session also ends after `idle` without a request and `absolute` after login.
Failed logins are counted per account and per address; past the limit, logins wait (`LoginThrottle`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crisiswatch.db import Row, StateConnection

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=30)  # last_seen_at is written at most this often per session


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def credential_of(password_hash: str) -> str:
    """What a session remembers of the password it was opened with: a new password ends it."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Session:
    id: str
    username: str
    credential: str
    address: str
    agent: str
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    ended_why: str | None

    @property
    def short_id(self) -> str:
        return self.id[:12]


def _session(row: Row) -> Session:
    data = dict(row)
    for key in ("created_at", "last_seen_at", "ended_at"):
        data[key] = datetime.fromisoformat(data[key]) if data[key] else None
    return Session(**data)


class SessionStore:
    def __init__(self, conn: StateConnection, *, idle: timedelta = IDLE, absolute: timedelta = ABSOLUTE) -> None:
        self.conn = conn
        self.idle = idle
        self.absolute = absolute

    def open(self, user: str, password_hash: str, *, address: str = "", agent: str = "",
             now: datetime | None = None) -> str:
        """A new session; returns the token for the cookie (only its hash is stored)."""
        now = now or datetime.now(UTC)
        token = secrets.token_urlsafe(32)
        self.conn.execute(
            "INSERT INTO dashboard_sessions(id, username, credential, address, agent, created_at, last_seen_at)"
            " VALUES (?,?,?,?,?,?,?)",
            (_hash(token), user, credential_of(password_hash), address[:64], agent[:200], now.isoformat(),
             now.isoformat()))
        return token

    def get(self, session_id: str) -> Session | None:
        row = self.conn.execute("SELECT * FROM dashboard_sessions WHERE id=?", (session_id,)).fetchone()
        return _session(row) if row else None

    def check(self, token: str | None, password_hash_of: Callable[[str], str | None],
              now: datetime | None = None, activity: bool = True) -> Session | None:
        """The live session behind a cookie's token, or None: ended, timed out, or its password changed.

        `password_hash_of(name)` is the user's current hash (None: no such user any more). A session
        found past a timeout or with an old password is ended here, with the reason. `activity=False`
        for what the page does on its own (the live stream): it checks the session without keeping it
        alive, so a tab left open still times out after `idle` (as Kibana's background requests do).
        """
        if not token:
            return None
        now = now or datetime.now(UTC)
        session = self.get(_hash(token))
        if session is None or session.ended_at is not None:
            return None
        password_hash = password_hash_of(session.username)
        why = None
        if password_hash is None:
            why = "user removed"
        elif session.credential != credential_of(password_hash):
            why = "password changed"
        elif now - session.created_at >= self.absolute:
            why = "absolute timeout"
        elif now - session.last_seen_at >= self.idle:
            why = "idle timeout"
        if why:
            self._end("id=?", [session.id], why, now)
            return None
        if activity and now - session.last_seen_at >= TOUCH_EVERY:
            self.conn.execute("UPDATE dashboard_sessions SET last_seen_at=? WHERE id=? AND ended_at IS NULL",
                              (now.isoformat(), session.id))
        return session

    def end(self, token: str, why: str = "logout", now: datetime | None = None) -> int:
        return self._end("id=?", [_hash(token)], why, now or datetime.now(UTC))

    def revoke(self, session_id: str, why: str, now: datetime | None = None) -> int:
        """End one session by its stored id (what the admin page shows), not by its token."""
        return self._end("id=?", [session_id], why, now or datetime.now(UTC))

    def revoke_user(self, user: str, why: str, *, keep: str | None = None, now: datetime | None = None) -> int:
        """End every live session of `user` (but `keep`, a token: the one that asked, on a password change)."""
        clause, params = "username=?", [user]
        if keep:
            clause += " AND id != ?"
            params.append(_hash(keep))
        return self._end(clause, params, why, now or datetime.now(UTC))

    def _end(self, clause: str, params: list, why: str, now: datetime) -> int:
        cur = self.conn.execute(
            f"UPDATE dashboard_sessions SET ended_at=?, ended_why=? WHERE {clause} AND ended_at IS NULL",
            [now.isoformat(), why, *params])
        return cur.rowcount

    def live(self, now: datetime | None = None, limit: int = 200) -> list[Session]:
        """Sessions not ended and within both timeouts, newest first."""
        now = now or datetime.now(UTC)
        rows = self.conn.execute(
            "SELECT * FROM dashboard_sessions WHERE ended_at IS NULL AND created_at > ? AND last_seen_at > ?"
            " ORDER BY created_at DESC LIMIT ?",
            ((now - self.absolute).isoformat(), (now - self.idle).isoformat(), limit))
        return [_session(r) for r in rows.fetchall()]


@dataclass(frozen=True)
class Throttled:
    scope: str  # "account" | "address"
    retry_after: int  # seconds


class LoginThrottle:
    """Failed logins per account and per address in a sliding window; past a limit, logins wait.

    The account limit stops guessing one password from many addresses; the address limit stops one
    address trying many accounts. A success clears the account's failures.
    """

    def __init__(self, conn: StateConnection, *, per_account: int = 5, per_address: int = 20,
                 window: timedelta = timedelta(minutes=15)) -> None:
        self.conn = conn
        self.per_account = per_account
        self.per_address = per_address
        self.window = window

    def blocked(self, user: str, address: str, now: datetime | None = None) -> Throttled | None:
        now = now or datetime.now(UTC)
        since = (now - self.window).isoformat()
        for scope, column, value, limit in (("account", "username", user, self.per_account),
                                            ("address", "address", address, self.per_address)):
            rows = self.conn.execute(
                f"SELECT at FROM login_failures WHERE {column}=? AND at > ? ORDER BY at DESC LIMIT ?",
                (value, since, limit)).fetchall()
            if len(rows) >= limit:
                # free again when the oldest of the last `limit` failures leaves the window
                until = datetime.fromisoformat(rows[-1]["at"]) + self.window
                return Throttled(scope, max(1, int((until - now).total_seconds()) + 1))
        return None

    def failed(self, user: str, address: str, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        self.conn.execute("INSERT INTO login_failures(at, username, address) VALUES (?,?,?)",
                          (now.isoformat(), user[:64], address[:64]))
        self.conn.execute("DELETE FROM login_failures WHERE at < ?", ((now - 4 * self.window).isoformat(),))

    def succeeded(self, user: str) -> None:
        self.conn.execute("DELETE FROM login_failures WHERE username=?", (user,))
