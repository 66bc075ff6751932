"""Every `crisiswatch …` line an operator reads (README, docs/, deploy/) is one the CLI takes today.

A synopsis (`ticket list [--mine] [--archived]|show|…`) must name commands and options that exist; a
line written out in full (`crisiswatch kibana export crisiswatch-kibana.ndjson`, a unit's ExecStart)
must parse as it stands. And each command's own --help says in one line what it does.
"""

from __future__ import annotations

import argparse
import re
import shlex
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from crisiswatch.cli import build_parser
from crisiswatch.config import Config

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md", "docs/operations.md", "docs/scaling.md", "docs/elasticsearch.md", "crisiswatch.example.yaml"]
DEPLOY = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "deploy").rglob("*") if p.is_file())
PARSER = build_parser()
QUOTED_OUTPUT = ("crisiswatch state store ",)  # lines the docs quote from a page or a log, not commands
PLACEHOLDER = re.compile(r"(\[|\||…|\.\.\.|\b[A-Z][A-Z_.]*\b)")  # a synopsis, not a line to run as it stands


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return set(parser._option_string_actions)


def documented_lines() -> list[tuple[str, str]]:
    """(where, command line) for each `crisiswatch …` the docs and deploy files quote."""
    found = []
    for name in DOCS + DEPLOY:
        text = (ROOT / name).read_text(encoding="utf-8")
        prose = re.sub(r"^ *```.*?^ *```", "", text.replace("\\`", ""), flags=re.S | re.M)  # fenced: lines below
        spans = [" ".join(m.group(1).split()) for m in re.finditer(r"`([^`]+)`", prose, re.S)]
        spans += [line.strip() for line in text.splitlines()]  # code blocks, unit files, the cron line
        for span in spans:
            m = re.search(r"(?:^|\s|/)crisiswatch(\s+(?:-|[a-z]).*)$", span.replace("\\|", "|"))
            if not m:
                continue
            line = re.split(r"\s(?:#|>>|2>&1|\(then)\s?", m.group(1))[0].strip()  # comments, redirections
            first = line.split()[0].rstrip(":")
            if ((first.startswith("-") or first in _subparsers(PARSER)) and ": " not in line
                    and not f"crisiswatch {line}".startswith(QUOTED_OUTPUT)):
                found.append((name, f"crisiswatch {line}"))
        if name.endswith("compose.yaml"):  # services' command arrays run after the image's entrypoint
            for service in yaml.safe_load(text)["services"].values():
                # (one with an entrypoint of its own runs a script: its lines were read above)
                if service.get("image") == "crisiswatch:local" and "entrypoint" not in service:
                    found.append((name, shlex.join(["crisiswatch", "--config", "/etc/crisiswatch/crisiswatch.yaml",
                                                    *service["command"]])))
    return sorted(set(found))


LINES = documented_lines()


def test_the_docs_quote_the_commands_an_operator_runs():
    quoted = {line for _, line in LINES}
    for expected in ("crisiswatch --db crisiswatch-demo.db ticket list", "crisiswatch state version",
                     "crisiswatch --config /etc/crisiswatch/crisiswatch.yaml alerts deadman-check"):
        assert expected in quoted
    assert len(LINES) > 60


def _option(parsers: list[argparse.ArgumentParser], option: str) -> argparse.Action | None:
    return next((p._option_string_actions[option] for p in parsers if option in p._option_string_actions), None)


@pytest.mark.parametrize(("where", "line"), LINES, ids=[f"{w}: {c}" for w, c in LINES])
def test_every_documented_command_line_names_what_the_cli_has(where, line):
    words = line.split()[1:]
    level, parent, reached = [PARSER], [PARSER], [PARSER]
    value_next = False
    for word in words:
        pieces = [p for p in (p.strip("[](),…") for p in word.split("|")) if p]
        if value_next:  # the value of the option before it (`--db FILE`, `--period week|month`)
            value_next = False
            continue
        for option in (p.split("=")[0] for p in pieces if p.startswith("-")):
            action = _option(reached, option)
            assert action is not None, f"{where}: `{line}`: no option {option}"
            value_next = action.nargs != 0 and "=" not in word and len(pieces) == 1
        names = [p for p in pieces if not p.startswith("-") and re.fullmatch(r"[a-z][a-z-]*", p)]
        below = {n: c for p in level for n, c in _subparsers(p).items()}
        beside = {n: c for p in parent for n, c in _subparsers(p).items()}
        if below and names:  # a command or action: it must exist
            unknown = [n for n in names if n not in below]
            assert not unknown, f"{where}: `{line}`: no command {unknown[0]!r} (has: {', '.join(below)})"
            parent, level = level, [below[n] for n in names]
            reached += level
        elif names and all(n in beside for n in names):  # alternatives of the same level (`list [--mine]|show`)
            level += [beside[n] for n in names]
            reached += [beside[n] for n in names]
    if len(words) > 1 and not PLACEHOLDER.search(" ".join(words)):  # (`crisiswatch crawl` alone names it)
        try:
            args = PARSER.parse_args(shlex.split(" ".join(words)))
        except SystemExit:
            pytest.fail(f"{where}: `{line}` does not parse")
        assert getattr(args, "func", None), f"{where}: `{line}` names no command to run"


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                yield (*path, name), helps.get(name), child
                yield from _commands(child, (*path, name))


@pytest.mark.parametrize(("path", "summary", "parser"), list(_commands(PARSER)),
                         ids=[" ".join(p) for p, _, _ in _commands(PARSER)])
def test_every_command_says_what_it_does_in_its_own_help(path, summary, parser):
    assert summary, f"`crisiswatch {' '.join(path)}` has no line in its parent's command list"
    assert parser.description, f"`crisiswatch {' '.join(path)} --help` does not say what it does"
    first = " ".join(parser.description.strip().splitlines()[0].split())
    assert first in " ".join(parser.format_help().split())


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in _subparsers(PARSER) if f"`crisiswatch {name}" not in readme]
    assert not missing, f"commands the README's table lacks: {missing}"


def _seconds(unit: str, key: str) -> int:
    """`OnUnitActiveSec=5min` in a deploy/ unit file, in seconds."""
    value = re.search(rf"^{key}=(\d+)min$", (ROOT / "deploy" / unit).read_text(encoding="utf-8"), re.M)
    assert value, f"deploy/{unit}: no {key}=…min"
    return int(value.group(1)) * 60


def test_the_compose_file_runs_the_dead_man_on_the_systemd_timers_schedule():
    """The dead-man, outside the workers it watches, in the compose file too: the check the docs and the
    systemd unit name, at the timer's times, restarted by Docker, able to page when PostgreSQL is down."""
    compose = "deploy/compose/compose.yaml"
    services = yaml.safe_load((ROOT / compose).read_text(encoding="utf-8"))["services"]
    runs = {name: " ".join(s.get("command", [])) for name, s in services.items()}
    checks = [name for name, command in runs.items() if "alerts deadman-check" in command]
    assert checks == ["deadman"], "no compose service (or more than one) runs `alerts deadman-check`"
    service = services["deadman"]
    assert service["image"] == "crisiswatch:local" and service["restart"] in ("always", "unless-stopped")
    assert "postgres" not in service.get("depends_on", {})  # a store that never comes up is what it pages about
    script = service["command"][0]
    assert not re.search(r"(?<!\$)\$(?!\$)", script), "compose reads a lone $ itself: the script writes $$"

    # the check the docs and the systemd unit name, parsed as the CLI parses it
    run = re.search(r"timeout (\d+) (crisiswatch .*alerts deadman-check)$", script, re.M)
    assert run, "no `timeout N crisiswatch … alerts deadman-check` line (a hung check must be stopped)"
    words = shlex.split(run.group(2))[1:]
    assert (compose, run.group(2)) in LINES  # so the parametrised test above checks it too
    args = PARSER.parse_args(words)
    assert (args.command, args.action) == ("alerts", "deadman-check")
    assert "`crisiswatch alerts deadman-check`" in (ROOT / "docs/operations.md").read_text(encoding="utf-8")
    unit = (ROOT / "deploy/crisiswatch-deadman.service").read_text(encoding="utf-8")
    assert f"/bin/crisiswatch {shlex.join(words)}\n" in unit, "not the check the systemd unit runs"

    # the timer's schedule: OnBootSec after start, then every OnUnitActiveSec; stopped after TimeoutStartSec
    assert int(run.group(1)) == _seconds("crisiswatch-deadman.service", "TimeoutStartSec")
    assert script.startswith(f"sleep {_seconds('crisiswatch-deadman.timer', 'OnBootSec')}\n")
    every = _seconds("crisiswatch-deadman.timer", "OnUnitActiveSec")
    assert re.search(rf"^while :; do\n(?: .*\n)*? +sleep {every}\ndone\n", script, re.M)

    # where it remembers its pages while the store is down: a volume, so a restarted check does not page again
    assert "STATE_DIRECTORY=/var/lib/crisiswatch" in service["environment"]
    assert any(v.endswith(":/var/lib/crisiswatch") for v in service["volumes"])


SETTING = re.compile(r"`((?:alerts|crawl|detection|tickets|sources|index|state|enrichment|playbooks|brands)(?:\[\])?"
                     r"(?:\.[a-z_<>\[\]0-9]+)+)`")


def _setting_exists(dotted: str) -> bool:
    """`alerts.slack.token_env`, `sources.<spider>.cookie_envs`, `brands[].sources`: a path through the config
    models (a `<name>` or a dict's key stands for any key)."""
    model: type[BaseModel] | None = Config
    parts = [p.removesuffix("[]") for p in dotted.split(".")]
    skip = False
    for part in parts:
        if skip or part.startswith("<"):
            skip = False
            continue
        if model is None or part not in model.model_fields:
            return False
        annotation = model.model_fields[part].annotation
        kinds = [annotation, *typing.get_args(annotation)]
        skip = any(typing.get_origin(k) is dict for k in kinds)  # the next part is a key of this mapping
        inner = [a for k in kinds for a in (k, *typing.get_args(k)) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = inner[0] if inner else None
    return True


def test_every_setting_the_docs_name_is_in_the_config_models():
    named = {(name, m.group(1)) for name in DOCS + DEPLOY
             for m in SETTING.finditer((ROOT / name).read_text(encoding="utf-8"))}
    assert len(named) > 20
    missing = sorted(f"{where}: {key}" for where, key in named if not _setting_exists(key)
                     and key not in ("index.kibana_cases",))  # a module (index/kibana_cases.py), not a setting
    assert not missing, missing
