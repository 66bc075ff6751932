"""The index URL: parsed and checked once, when the config is loaded, and shown only redacted.

`sqlite:///relative.db` and `sqlite:////abs/path.db` (as in SQLAlchemy) name the embedded store;
`elasticsearch://host:9200`, `opensearch://host:9200?tls=true` and `http(s)://host:9200` name a
cluster, with options in the query string. Credentials never sit in the URL: a URL is printed by
`status`, logged by Scrapy and pasted into chats, so `user:password@` is refused with a pointer to
the environment variables the backends read (ES_USERNAME / ES_PASSWORD or ES_API_KEY).

Every check lives here, in the kernel, so a bad URL stops with one line at load time — from the
config file and from `--index-url` alike — instead of inside a crawl's reactor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

SQLITE = "sqlite"
CLUSTER_SCHEMES = ("elasticsearch", "opensearch", "http", "https")
SCHEMES = (SQLITE, *CLUSTER_SCHEMES)

_BOOL = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
_SIZE = re.compile(r"^\d+(?:b|kb|mb|gb|tb)$", re.IGNORECASE)
_AGE = re.compile(r"^\d+(?:d|h|m|s|ms)$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ALIAS = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")

# option -> (what it must look like, parser)
_OPTIONS = {
    "tls": ("true or false", lambda v: _BOOL[v.lower()]),
    "verify_certs": ("true or false", lambda v: _BOOL[v.lower()]),
    "shards": ("a whole number ≥ 1", lambda v: _at_least(int(v), 1)),
    "replicas": ("a whole number ≥ 0", lambda v: _at_least(int(v), 0)),
    "retries": ("a whole number ≥ 0", lambda v: _at_least(int(v), 0)),
    "backoff": ("seconds ≥ 0", lambda v: _at_least(float(v), 0)),
    "alias": ("a lower-case index name", lambda v: _matching(_ALIAS, v)),
    "rollover_size": ("a size such as 30gb", lambda v: _matching(_SIZE, v)),
    "rollover_age": ("an age such as 7d", lambda v: _matching(_AGE, v)),
    "delete_after": ("an age such as 90d", lambda v: _matching(_AGE, v)),
    "api_key_env": ("an environment variable name", lambda v: _matching(_ENV, v)),
    "username_env": ("an environment variable name", lambda v: _matching(_ENV, v)),
    "password_env": ("an environment variable name", lambda v: _matching(_ENV, v)),
}


def _at_least(value: float, low: float) -> float:
    if value < low:
        raise ValueError
    return value


def _matching(pattern: re.Pattern[str], value: str) -> str:
    if not pattern.match(value):
        raise ValueError
    return value


class IndexURLError(ValueError):
    """What is wrong with an index URL, in one line that never repeats its credentials."""


@dataclass(frozen=True)
class IndexURL:
    scheme: str
    path: str = ""                 # the SQLite file
    host: str = ""
    port: int = 9200
    tls: bool = False
    options: dict[str, object] = field(default_factory=dict)  # typed values of _OPTIONS, minus tls

    @property
    def is_sqlite(self) -> bool:
        return self.scheme == SQLITE

    @property
    def base(self) -> str:
        """`http(s)://host:port`, what the cluster clients take."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"


# query parameters that carry a credential: libpq's password and sslpassword, the robots' keys (WeCom key=, DingTalk
# access_token= with sign=), tokens and API keys in general
_SECRET_PARAMS = r"password|sslpassword|passwd|pwd|key|api_?key|apikey|access_?token|token|sign|signature|secret|auth"


def redact_url(url: str) -> str:
    """The URL (or a text holding URLs) with any `user:password@` and credential parameter (`password=`,
    `key=`, `access_token=`, …) replaced, for every place a URL is shown."""
    shown = re.sub(r"(?<=//)[^@/?#\s]*@", "***@", str(url))
    return re.sub(rf"(?i)(?<=[?&])({_SECRET_PARAMS})=[^&#\s'\"]*", r"\1=***", shown)


def parse_index_url(url: str) -> IndexURL:
    """Parse and check an index URL; raise IndexURLError naming the problem."""
    shown = redact_url(url)
    if "://" not in str(url):
        raise IndexURLError(f"{shown!r} is not a URL: use sqlite:///FILE or elasticsearch://HOST:9200")
    scheme = str(url).split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise IndexURLError(f"unknown scheme in {shown!r}: use one of {', '.join(s + '://' for s in SCHEMES)}")
    if scheme == SQLITE:
        return _sqlite(str(url), shown)
    try:
        parts = urlsplit(str(url))
        port = parts.port  # raises ValueError for ":notaport" and out-of-range ports
        hostname = parts.hostname
    except ValueError as exc:
        raise IndexURLError(f"bad index URL {shown!r}: {exc}") from None
    if parts.username is not None or parts.password is not None:
        raise IndexURLError(
            f"index URL {shown!r} carries credentials; put them in the environment instead: "
            "ES_USERNAME and ES_PASSWORD, or ES_API_KEY (other names with ?username_env=, ?password_env=, "
            "?api_key_env=)")
    if not hostname:
        raise IndexURLError(f"index URL {shown!r} names no host: use e.g. {scheme}://127.0.0.1:9200")
    if parts.path not in ("", "/"):
        raise IndexURLError(f"index URL {shown!r} has a path; the index name is the alias option (?alias=)")
    options: dict[str, object] = {}
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise IndexURLError(f"bad query string in index URL {shown!r}") from None
    unknown = sorted(set(query) - set(_OPTIONS))
    if unknown:
        raise IndexURLError(f"unknown index URL option(s) {', '.join(unknown)} in {shown!r}; known: "
                            f"{', '.join(_OPTIONS)}")
    for name, values in query.items():
        expected, parse = _OPTIONS[name]
        try:
            options[name] = parse(values[-1])
        except (ValueError, KeyError):
            raise IndexURLError(f"index URL option {name}={values[-1]!r} in {shown!r}: must be {expected}") from None
    tls = bool(options.pop("tls", scheme == "https"))
    return IndexURL(scheme=scheme, host=hostname, port=port or 9200, tls=tls, options=options)


def _sqlite(url: str, shown: str) -> IndexURL:
    rest = url[len("sqlite://"):]
    path = rest[1:] if rest.startswith("/") else rest  # sqlite:///rel.db -> rel.db, sqlite:////abs -> /abs
    path = path.split("?", 1)[0]
    if not path.strip() or path.strip() in (":memory:", "/"):
        # sqlite3 would open a temporary database: the crawl would report success and keep nothing
        raise IndexURLError(f"{shown!r} names no database file (it would be a temporary database and every "
                            "mention written to it lost): use sqlite:///crisiswatch.db or sqlite:////abs/path.db")
    return IndexURL(scheme=SQLITE, path=path)
