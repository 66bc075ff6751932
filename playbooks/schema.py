"""The playbook YAML schema: a trigger and ordered, typed steps; validated before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crisiswatch.errors import CrisiswatchError
from crisiswatch.mention import CATEGORIES, SEVERITIES
from playbooks.steps import STEP_TYPES


class Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str | list[str] = "negative_spike"
    # not `on:` — YAML 1.1 reads a bare `on` key as the boolean true
    when: list[Literal["opened", "escalated"]] = Field(default_factory=lambda: ["opened"])
    brands: list[str] = Field(default_factory=list, description="empty = any brand")
    categories: list[str] = Field(default_factory=list, description="empty = any category")
    min_severity: str = "一般"
    min_level: Literal["warning", "critical"] = "warning"
    min_category_share: float = Field(default=0.3, ge=0, le=1,
                                      description="the listed categories' share of the negative posts")
    keywords: list[str] = Field(default_factory=list, description="any of these in the top posts or terms")
    min_mentions: int = Field(default=0, ge=0, description="posts in the incident's window")
    min_followers: int = Field(default=0, ge=0, description="the widest-reaching author behind it")
    min_cluster_size: int = Field(default=0, ge=0, description="copies of its most shared post")

    @field_validator("min_severity")
    @classmethod
    def _grade(cls, value: str) -> str:
        if value not in SEVERITIES:
            raise ValueError(f"must be one of {', '.join(SEVERITIES)}")
        return value

    @field_validator("categories")
    @classmethod
    def _cats(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if c not in CATEGORIES]
        if bad:
            raise ValueError(f"unknown category {bad[0]!r}")
        return value


class StepSpec(BaseModel):
    """One step as written; its `type` picks the step class, which validates the rest."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    name: str = ""

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    title: str = ""
    description: str = ""
    order: int = Field(default=100, description="matching playbooks run in this order (then by name)")
    trigger: Trigger
    steps: list[StepSpec] = Field(min_length=1)
    path: str = ""


def load_playbook(path: Path) -> Playbook:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if raw is not None and not isinstance(raw, dict):
            raise CrisiswatchError(f"playbook {path}: top level must be a mapping with name, trigger and steps")
        playbook = Playbook.model_validate({**(raw or {}), "path": str(path)})
    except (OSError, UnicodeDecodeError) as exc:
        raise CrisiswatchError(f"playbook {path}: cannot read ({exc})") from None
    except yaml.YAMLError as exc:
        raise CrisiswatchError(f"playbook {path}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise CrisiswatchError(f"playbook {path}: {key}: {err['msg']}") from None
    for i, spec in enumerate(playbook.steps):
        step_cls = STEP_TYPES.get(spec.type)
        if step_cls is None:
            raise CrisiswatchError(f"playbook {path}: steps.{i}.type: unknown step type {spec.type!r} "
                                   f"(known: {', '.join(sorted(STEP_TYPES))})")
        try:
            step_cls.Options.model_validate(spec.options)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise CrisiswatchError(f"playbook {path}: steps.{i}.{key}: {err['msg']}") from None
    return playbook


def load_playbooks(directory: Path) -> list[Playbook]:
    if not directory.is_dir():
        raise CrisiswatchError(f"playbook folder {directory} does not exist")
    books = sorted((load_playbook(p) for p in sorted(directory.glob("*.y*ml"))), key=lambda b: (b.order, b.name))
    names = [b.name for b in books]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise CrisiswatchError(f"playbook folder {directory}: two playbooks are named {sorted(dupes)[0]!r}")
    return books


def load_usable(directory: Path) -> tuple[list[Playbook], list[str]]:
    """What the run loop loads: every playbook of the folder that is valid, and one line per file that is not
    (or why there is none), so one bad file leaves the others running and is said, not fatal to detection."""
    if not directory.is_dir():
        return [], [f"playbook folder {directory} does not exist: no playbook runs"]
    books, problems, names = [], [], set()
    for path in sorted(directory.glob("*.y*ml")):
        try:
            book = load_playbook(path)
        except CrisiswatchError as exc:
            problems.append(f"{exc}: this playbook does not run")
            continue
        if book.name in names:
            problems.append(f"playbook {path}: name: a second playbook named {book.name!r}: this file does not run")
            continue
        names.add(book.name)
        books.append(book)
    if not books:
        problems.append(f"playbook folder {directory}: no valid playbook: incidents get no ticket and no alert")
    return sorted(books, key=lambda b: (b.order, b.name)), problems


def load_path(path: Path) -> list[Playbook]:
    """A playbook file or a folder of them (what `crisiswatch playbook validate` checks)."""
    if path.is_dir():
        return load_playbooks(path)
    if not path.exists():
        raise CrisiswatchError(f"no playbook file or folder {path}")
    return [load_playbook(path)]
