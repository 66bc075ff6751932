"""One YAML file configures crisiswatch; a bad file stops at start with the file, key and problem.

The sections live in their own modules (sources, detection, alerts, tickets); everything is
importable from `crisiswatch.config` as before.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from crisiswatch.config.alerts import *  # noqa: F403
from crisiswatch.config.alerts import WEBHOOK_CHANNELS, AlertSettings, robot_url_problem
from crisiswatch.config.base import StrictModel, parse_duration  # noqa: F401 (re-exported)
from crisiswatch.config.detection import *  # noqa: F403
from crisiswatch.config.detection import DetectionSettings
from crisiswatch.config.scale import *  # noqa: F403
from crisiswatch.config.scale import CrawlSettings, StateSettings
from crisiswatch.config.sources import *  # noqa: F403
from crisiswatch.config.sources import Brand, BrandSources, EnrichmentSettings, IndexSettings, SourceSettings
from crisiswatch.config.tickets import *  # noqa: F403
from crisiswatch.config.tickets import PlaybookSettings, TicketSettings
from crisiswatch.errors import ConfigError, CrisiswatchError
from crisiswatch.store.url import sqlite_path

DEFAULT_FILES = ("crisiswatch.yaml", "crisiswatch.example.yaml")
DB_ENV = "CRISISWATCH_DB"  # set by `crisiswatch --db FILE`
STATE_URL_ENV = "CRISISWATCH_STATE_URL"  # set by `crisiswatch --state-url URL`


class Config(StrictModel):
    path: str = ""
    state_db: str = "crisiswatch.db"
    brands: list[Brand] = Field(default_factory=list)
    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    index: IndexSettings = Field(default_factory=IndexSettings)
    enrichment: EnrichmentSettings = Field(default_factory=EnrichmentSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    playbooks: PlaybookSettings = Field(default_factory=PlaybookSettings)
    tickets: TicketSettings = Field(default_factory=TicketSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, value: dict[str, SourceSettings]) -> dict[str, SourceSettings]:
        # a misspelt source's settings applied to nothing: Weibo crawled without the cookie set for "weibo_serach"
        known = list(BrandSources.model_fields)
        for name in value:
            if name not in known:
                meant = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                raise ValueError(f"unknown source {name!r}" + (f" (did you mean {meant[0]!r}?)" if meant else "")
                                 + f"; sources: {', '.join(known)}")
        return value

    def brand(self, key: str) -> Brand | None:
        return next((b for b in self.brands if b.key == key), None)

    def brand_name(self, key: str) -> str:
        """The brand as people call it (极光优选), or its key where the config names no such brand."""
        brand = self.brand(key)
        return brand.display_name if brand else key

    def source(self, name: str) -> SourceSettings:
        return self.sources.get(name, SourceSettings())

    def resolve(self, relative: str) -> Path:
        """Paths in the file are relative to the file, as users expect."""
        p = Path(relative)
        if p.is_absolute() or not self.path:
            return p
        return Path(self.path).parent / p

    @property
    def state_store(self) -> str:
        """Where state lives, for `crisiswatch.db.connect`: state.url when set (a SQLite file in it
        relative to this file), else the SQLite file `state_db`."""
        if not self.state.url:
            return str(self.resolve(self.state_db))
        path = sqlite_path(self.state.url)
        return self.state.url if path is None else str(self.resolve(path))

    def with_overrides(self, **changes: Any) -> Config:
        """A copy with `section__key=value` changes (from command-line options), checked like the file."""
        data = self.model_dump()
        for dotted, value in changes.items():
            node = data
            *parents, leaf = dotted.split("__")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        try:
            return Config.model_validate(data)
        except ValidationError as exc:
            key, problem = _first_error(exc)
            raise CrisiswatchError(f"bad {key} given on the command line: {problem}") from None


def _first_error(exc: ValidationError) -> tuple[str, str]:
    """(dotted key, message) of the first problem, in words: pydantic's "Value error, " prefix dropped, an
    unknown key said as one with the key it may have meant, and the other problems' keys named."""
    errors = exc.errors()
    err = errors[0]
    key = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":  # "Extra inputs are not permitted"
        meant = difflib.get_close_matches(str(err["loc"][-1]), sorted(_KNOWN_KEYS), n=1, cutoff=0.75)
        msg = "unknown key" + (f" (did you mean {meant[0]!r}?)" if meant else "")
    others = [".".join(str(p) for p in e["loc"]) for e in errors[1:]]
    more = f" (and {len(others)} more: {', '.join(others[:3])}{', …' if len(others) > 3 else ''})" if others else ""
    return key, f"{msg}{more}"


def _field_names(model: type[BaseModel], seen: set[type]) -> set[str]:
    """Every key a config file may hold, at any depth (the hint for a misspelt one)."""
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for field in model.model_fields.values():
        for inner in (field.annotation, *get_args(field.annotation),
                      *(a for arg in get_args(field.annotation) for a in get_args(arg))):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                names |= _field_names(inner, seen)
    return names


def find_config(explicit: str | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("CRISISWATCH_CONFIG")
    if env:
        return Path(env)
    for name in DEFAULT_FILES:
        if Path(name).exists():
            return Path(name)
    return None


def with_state_db(config: Config, db: str) -> Config:
    """The state database in `db`, and the index too when the index is SQLite (the demo keeps both in one)."""
    path = str(Path(db).resolve())
    changes: dict[str, Any] = {"state_db": path, "state__url": ""}
    if config.index.url.startswith("sqlite:"):
        changes["index__url"] = f"sqlite:///{path}"
    return config.with_overrides(**changes)


def _anchored_index(config: Config) -> Config:
    """A SQLite index named by a relative path lies beside the config file, as `state_db` does: read from the
    directory a command ran in, `crisiswatch -c ../crisiswatch.yaml` searched (and made) another, empty index."""
    url = config.index.url
    path = sqlite_path(url) if url.startswith("sqlite:") else None
    if not config.path or path is None or Path(path).is_absolute():
        return config
    query = url.partition("?")[2]
    return config.with_overrides(index__url=f"sqlite:///{config.resolve(path).resolve()}" + (f"?{query}" if query else ""))


def load_config(explicit: str | None = None) -> Config:
    """The config file, with the state database of `--db` / $CRISISWATCH_DB when one is given."""
    config = _anchored_index(_load_file(explicit))
    db = os.environ.get(DB_ENV)
    config = with_state_db(config, db) if db else config
    url = os.environ.get(STATE_URL_ENV)
    return config.with_overrides(state__url=url) if url else config


def _load_file(explicit: str | None) -> Config:
    path = find_config(explicit)
    if path is None:
        return Config()
    if not path.exists():
        raise ConfigError(str(path), "", "file not found")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise ConfigError(str(path), f"line {line}", f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                          "save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read it ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ConfigError(str(path), where, f"not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "", "top level must be a mapping")
    return parse_config(raw, str(path))


def parse_config(raw: dict[str, Any], path: str = "<config>") -> Config:
    try:
        config = Config.model_validate({**raw, "path": path})
    except ValidationError as exc:
        key, problem = _first_error(exc)
        raise ConfigError(path, key, problem) from None
    keys = [b.key for b in config.brands]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise ConfigError(path, "brands", f"duplicate brand key {sorted(dupes)[0]!r}")
    for i, route in enumerate(config.alerts.routes):
        unknown = [b for b in route.brands if b not in keys]
        if unknown:
            raise ConfigError(path, f"alerts.routes.{i}.brands", f"unknown brand {unknown[0]!r}")
    _check_robot_urls(config, path)
    return config


def _check_robot_urls(config: Config, path: str) -> None:
    """A robot webhook URL (in the environment, named by url_env) that points off its platform stops the start,
    in one line naming the setting and its variable, never the URL (it carries the robot's key). An unset
    variable is left to the deliverer, whose alerts wait for it."""
    alerts = config.alerts
    routes = [(f"alerts.routes.{i}.url_env", r) for i, r in enumerate(alerts.routes)]
    if alerts.operator_route is not None:
        routes.append(("alerts.operator_route.url_env", alerts.operator_route))
    for key, route in routes:
        url = os.environ.get(route.url_env or "") if route.channel in WEBHOOK_CHANNELS else None
        problem = robot_url_problem(route.channel, url, alerts.webhook_relay_hosts) if url else None
        if problem:
            raise ConfigError(path, key, f"${route.url_env}: {problem}")


_KNOWN_KEYS = _field_names(Config, set())
