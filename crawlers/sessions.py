"""Login sessions for the sites that want one: a pool of cookies per source, rotated, refreshed, retired.

Where a source's cookies come from (`sources.<spider>` in the config; values never in the file):
- `cookie_env` and `cookie_envs`: environment variables, each holding one account's cookie as the
  browser sends it (`SUB=...; SUBP=...`, line breaks allowed);
- `cookie_files`: files exported from a browser, one account each, in Netscape `cookies.txt`
  format or as JSON (a list of {name, value, domain, expirationDate}, as cookie-export extensions
  write it); only cookies for the source's domains and not yet expired are kept.
Requests take the pool's live sessions in turn. A `Set-Cookie` in a reply updates that session
for the rest of the run (m.weibo.cn refreshes `XSRF-TOKEN`, h5api.m.tmall.com hands out
`_m_h5_tk`), and a session holding `XSRF-TOKEN` sends it back as the `X-XSRF-TOKEN` header.
Without configured cookies a source still gets one anonymous session, which collects what the
site sets, as a browser would.

A session the site answers with a login wall (HTTP 432, `ok:-100` to passport, a redirect to a
login page, JD's `{}`; see crawlers.blocks) has expired: it is put aside for good (table
`session_quarantine`, keyed by a hash of the configured value, so exporting a fresh cookie brings
the account back), reported once as a `cookie_expired` health event ("weibo_search cookie 2
expired at 14:02 UTC"), and the request is sent again with the next live session.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crisiswatch.db import StateConnection
from crisiswatch.errors import CrisiswatchError
from crisiswatch.lease import Leases

# the hosts whose cookies each site reads (a browser export holds every site's cookies)
SITE_DOMAINS = {
    "weibo": ("weibo.cn", "weibo.com", "sina.com.cn"),
    "weibo_comment": ("weibo.cn", "weibo.com", "sina.com.cn"),
    "jd": ("jd.com",),
    "tmall": ("tmall.com", "taobao.com"),
    "tousu_sina": ("sina.com.cn",),
    "jutousu": ("21cn.com",),
}


@dataclass
class Session:
    label: str         # "weibo_search cookie 2": what logs and health events name (never the value)
    origin: str        # "env WEIBO_COOKIE" or "file weibo.txt"
    cookies: dict[str, str] = field(repr=False)  # values never in a log or a traceback
    fingerprint: str = ""
    expired: bool = False
    elsewhere: bool = False  # on a shared crawl: leased by another host, not ours to use
    refreshed: set[str] = field(default_factory=set)

    @property
    def anonymous(self) -> bool:
        return not self.fingerprint

    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


def parse_cookie_header(text: str) -> dict[str, str]:
    """`SUB=abc; SUBP=def` (as copied from a browser, line breaks allowed) -> {SUB: abc, SUBP: def}."""
    out: dict[str, str] = {}
    for part in text.replace("\r", "").replace("\n", "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            out[name.strip()] = value.strip()
    return out


def _domain_ok(domain: str, domains: tuple[str, ...]) -> bool:
    domain = domain.lstrip(".").lower()
    return not domains or any(domain == d or domain.endswith("." + d) for d in domains)


def parse_cookie_file(text: str, domains: tuple[str, ...] = (), now: float | None = None) -> dict[str, str]:
    """A Netscape cookies.txt or a JSON export, reduced to the live cookies of `domains`."""
    now = time.time() if now is None else now
    out: dict[str, str] = {}
    stripped = text.lstrip("\ufeff").strip()
    if stripped.startswith(("[", "{")):
        data = json.loads(stripped)
        entries = data.get("cookies", []) if isinstance(data, dict) else data
        for c in entries:
            if not isinstance(c, dict) or not c.get("name"):
                continue
            expires = c.get("expirationDate", c.get("expires"))
            if isinstance(expires, int | float) and 0 < expires < now and not c.get("session"):
                continue
            if _domain_ok(str(c.get("domain", "")), domains):
                out[str(c["name"])] = str(c.get("value", ""))
        return out
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_"):]
        elif not line.strip() or line.startswith("#"):
            continue
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) < 6:
            # the line itself is not shown: it holds the cookie's value
            raise ValueError(f"line {number} is not a cookies.txt line: {len(parts)} tab-separated field(s) where "
                             "7 are needed (saved with spaces instead of tabs?)")
        domain, _, _, _, expiry, name = parts[:6]
        value = parts[6] if len(parts) > 6 else ""
        if expiry.strip() not in ("", "0") and float(expiry) < now:
            continue
        if _domain_ok(domain, domains):
            out[name] = value
    return out


def _fingerprint(cookies: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(cookies.items())).encode()).hexdigest()[:24]


def unset_cookie_envs(settings: Any) -> list[str]:
    """The cookie variables the config names that hold no cookie in this environment."""
    return [e for e in [settings.cookie_env, *settings.cookie_envs]
            if e and not parse_cookie_header(os.environ.get(e, ""))]


def configured_sessions(source: str, settings: Any, domains: tuple[str, ...], base: Path) -> list[Session]:
    """The source's sessions from its config; CrisiswatchError names a missing or unreadable file."""
    sessions: list[Session] = []
    envs = [e for e in [settings.cookie_env, *settings.cookie_envs] if e]
    for env in envs:
        cookies = parse_cookie_header(os.environ.get(env, ""))
        if cookies:
            sessions.append(Session(f"{source} cookie {len(sessions) + 1}", f"env {env}", cookies,
                                    _fingerprint(cookies)))
    for name in settings.cookie_files:
        path = Path(os.path.expandvars(os.path.expanduser(name)))
        path = path if path.is_absolute() else base / path
        try:
            cookies = parse_cookie_file(path.read_text(encoding="utf-8"), domains)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise CrisiswatchError(f"{source}: cookie file {path}: {exc.__class__.__name__}: {exc}") from None
        if not cookies:
            raise CrisiswatchError(f"{source}: cookie file {path} holds no live cookie for {', '.join(domains)}")
        sessions.append(Session(f"{source} cookie {len(sessions) + 1}", f"file {path.name}", cookies,
                                _fingerprint(cookies)))
    return sessions


class SessionPool:
    """One source's sessions, taken in turn; expired ones are retired for good."""

    def __init__(self, source: str, sessions: list[Session], conn: StateConnection | None = None) -> None:
        self.source = source
        self.conn = conn
        self.holder: str | None = None  # set by lease(): this host's name on the cookies it leased
        self.ttl = timedelta(0)
        self.renewed = 0.0
        self.sessions = sessions or [Session(f"{source} anonymous", "none", {})]
        self.configured = bool(sessions)
        quarantined = self._quarantined()
        for s in self.sessions:
            s.expired = s.fingerprint in quarantined
        self._turn = 0

    def _quarantined(self) -> set[str]:
        if self.conn is None:
            return set()
        rows = self.conn.execute("SELECT fingerprint FROM session_quarantine WHERE source=?", (self.source,))
        return {r[0] for r in rows}

    @property
    def live(self) -> list[Session]:
        return [s for s in self.sessions if not s.expired and not s.elsewhere]

    # one account, one host: on a shared crawl each host uses only the cookies it leased ----------
    def lease(self, holder: str, ttl: timedelta) -> list[str]:
        """Takes the `cookie:<source>:<fingerprint>` lease of each configured session; those another host
        holds are left alone for this crawl. Returns their labels."""
        self.holder, self.ttl, self.renewed = holder, ttl, time.monotonic()
        leases = Leases(self.conn)
        for s in self.sessions:
            if not s.anonymous and not s.expired:
                s.elsewhere = not leases.acquire(self._lease_name(s), holder, ttl)
        return [s.label for s in self.sessions if s.elsewhere]

    def _lease_name(self, session: Session) -> str:
        return f"cookie:{self.source}:{session.fingerprint}"

    def _renew(self) -> None:
        """Every third of the ttl while cookies are in use; a lease lost meanwhile puts its cookie aside."""
        if self.holder is None or time.monotonic() - self.renewed < self.ttl.total_seconds() / 3:
            return
        self.renewed = time.monotonic()
        leases = Leases(self.conn)
        for s in self.live:
            if not s.anonymous and not leases.renew(self._lease_name(s), self.holder, self.ttl):
                s.elsewhere = True

    def release(self) -> None:
        if self.holder is None:
            return
        leases = Leases(self.conn)
        for s in self.sessions:
            if not s.anonymous and not s.elsewhere:
                leases.release(self._lease_name(s), self.holder)

    def next(self) -> Session | None:
        """The next live session in turn; None when every configured cookie has expired."""
        self._renew()
        live = self.live
        if not live:
            return None
        self._turn += 1
        return live[(self._turn - 1) % len(live)]

    def get(self, label: str) -> Session | None:
        return next((s for s in self.sessions if s.label == label), None)

    def absorb(self, session: Session, set_cookies: list[bytes]) -> None:
        """Keeps what a reply's Set-Cookie headers set (for this run); `Max-Age=0` deletes."""
        for raw in set_cookies:
            first, *attrs = raw.decode("latin-1").split(";")
            name, sep, value = first.strip().partition("=")
            if not sep or not name:
                continue
            gone = any(a.strip().lower() in ("max-age=0", "max-age=-1") for a in attrs)
            if gone:
                session.cookies.pop(name, None)
            else:
                session.cookies[name] = value
            session.refreshed.add(name)

    def expire(self, session: Session, reason: str) -> str | None:
        """Retires a configured session; returns the one-line report the first time, else None."""
        if session.anonymous or session.expired:
            return None
        session.expired = True
        at = datetime.now(UTC)
        line = f"{session.label} expired at {at:%H:%M} UTC ({reason}; from {session.origin})"
        if self.conn is not None:
            self.conn.execute("INSERT INTO session_quarantine(source, fingerprint, label, at, reason)"
                              " VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING", (self.source, session.fingerprint, session.label,
                                                      at.isoformat(), reason))
        return line

    def exhausted_line(self) -> str:
        labels = ", ".join(s.label.rsplit(" ", 2)[-2] + " " + s.label.rsplit(" ", 1)[-1] for s in self.sessions)
        if any(s.elsewhere for s in self.sessions):
            return f"every configured cookie of {self.source} is expired or in use by another crawler host ({labels})"
        return f"every configured cookie of {self.source} has expired ({labels}): export fresh ones"
