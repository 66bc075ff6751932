"""Imports point one way between the packages, and none hides in a function.

The developers' guide: "crawlers and monitor may use index and the kernel; playbooks use monitor's
incidents; alerts use neither playbooks nor monitor; the CLI sits on top." As layers, each with what
it may import besides itself:

  cli        crisiswatch.commands, crisiswatch.cli              everything
  apps       monitor.loop, flows, slack_app, dashboard, demo,   every layer below: they wire the
             backtest                                           domains together (the run loop
                                                                starts crawls, the dashboard shows
                                                                source health, the demo replays)
  playbooks  playbooks.*                                        monitor, alerts, index, kernel
  alerts     alerts.*                                           crawlers, index, kernel (the guide
                                                                rules out playbooks and monitor;
                                                                operator alerts read the crawlers'
                                                                source health, crawlers.state)
  crawlers   crawlers.*                                         index, kernel (never monitor: the
                                                                enrichment pipeline is monitor's,
                                                                named in ITEM_PIPELINES by its path)
  monitor    monitor.* (enrichment, detection, incidents)       index, kernel (never crawlers)
  index      index.*                                            kernel
  kernel     crisiswatch.* but the CLI                          itself only

Nothing below the CLI imports crisiswatch.commands. And no import hides in a function or under
`if TYPE_CHECKING:` (the ways a cycle is dodged): imports go at the module top. The exceptions are
the CLI's command modules, which import their domain when a command runs so `crisiswatch --help`
stays fast (measured in crisiswatch/commands/__init__.py), and a lazy import with a `# lazy:`
comment saying why (a heavy or optional library needed on one path), on its line or in the lines
right above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("crisiswatch", "index", "crawlers", "monitor", "alerts", "playbooks")
APPS = ("monitor.loop", "monitor.flows", "monitor.slack_app", "monitor.dashboard", "monitor.demo", "monitor.backtest")
CLI = ("crisiswatch.commands", "crisiswatch.cli")
MAY_IMPORT = {
    "kernel": set(),
    "index": {"kernel"},
    "monitor": {"index", "kernel"},
    "crawlers": {"index", "kernel"},
    "alerts": {"crawlers", "index", "kernel"},
    "playbooks": {"monitor", "alerts", "index", "kernel"},
    "apps": {"playbooks", "monitor", "alerts", "crawlers", "index", "kernel"},
    "cli": {"apps", "playbooks", "monitor", "alerts", "crawlers", "index", "kernel"},
}


def layer(module: str) -> str | None:
    if module == CLI[1] or module.startswith(CLI):
        return "cli"
    if module.startswith(APPS):
        return "apps"
    top = module.split(".")[0]
    if top == "crisiswatch":
        return "kernel"
    return top if top in PACKAGES else None


def imports(path: Path, root: Path = REPO) -> list[tuple[str, bool, int, bool]]:
    """(module, hidden, line, has a `# lazy:` comment) for every import of the file, relative ones resolved."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: list[tuple[str, bool, int, bool]] = []

    def commented(node: ast.stmt, start: int) -> bool:
        """`# lazy:` on the import's lines, or on the non-blank lines above it down to the function's start."""
        if any("# lazy:" in lines[i] for i in range(node.lineno - 1, node.end_lineno or node.lineno)):
            return True
        i = node.lineno - 2
        while i >= start and lines[i].strip():
            if "# lazy:" in lines[i]:
                return True
            i -= 1
        return False

    def visit(node: ast.AST, hidden: bool, start: int) -> None:
        for child in ast.iter_child_nodes(node):
            inner, inner_start = hidden, start
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner, inner_start = True, child.lineno
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner, inner_start = True, child.lineno
            if isinstance(child, ast.Import | ast.ImportFrom):
                note = hidden and commented(child, start)
                if isinstance(child, ast.Import):
                    found.extend((a.name, hidden, child.lineno, note) for a in child.names)
                else:
                    base = child.module or ""
                    if child.level:
                        parts = package.split(".")
                        base = ".".join(parts[: len(parts) - child.level + 1] + ([base] if base else []))
                    found.append((base, hidden, child.lineno, note))
                    found.extend((f"{base}.{a.name}", hidden, child.lineno, note) for a in child.names)
            visit(child, inner, inner_start)

    visit(ast.parse(text), False, 0)
    return found


def module_name(path: Path, root: Path = REPO) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def sources(root: Path = REPO) -> list[Path]:
    return sorted(p for top in PACKAGES if (root / top).is_dir() for p in (root / top).rglob("*.py"))


def wrong_way(root: Path = REPO) -> list[str]:
    wrong: dict[tuple[str, int], str] = {}
    for path in sources(root):
        mine, rel = layer(module_name(path, root)), path.relative_to(root).as_posix()
        for target, _, line, _ in imports(path, root):
            theirs = layer(target)
            if theirs and theirs != mine and theirs not in MAY_IMPORT[mine]:
                wrong.setdefault((rel, line), f"{rel}:{line} ({mine}) imports {target} ({theirs})")
    return sorted(wrong.values())


def hidden_imports(root: Path = REPO) -> dict[str, list[str]]:
    """File -> its imports inside functions or under TYPE_CHECKING without a `# lazy:` comment."""
    hidden: dict[str, list[str]] = {}
    for path in sources(root):
        if layer(module_name(path, root)) == "cli":
            continue
        rel = path.relative_to(root).as_posix()
        seen: set[int] = set()
        for target, is_hidden, line, note in imports(path, root):
            if is_hidden and not note and line not in seen:  # one line per statement: its module
                seen.add(line)
                hidden.setdefault(rel, []).append(f"{rel}:{line} imports {target}")
    return hidden


def test_imports_point_one_way():
    wrong = wrong_way()
    assert not wrong, "\n".join(wrong)


def test_no_import_hides_in_a_function():
    hidden = hidden_imports()
    found = [line for _rel, lines in sorted(hidden.items()) for line in lines]
    assert not found, "imports at the module top, or a `# lazy:` comment saying why:\n" + "\n".join(found)


def test_the_checks_see_violations(tmp_path):
    """The checker itself, on a small tree: each kind of violation is caught, and the allowed forms pass."""
    def write(rel: str, text: str) -> None:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    write("alerts/probe.py", "def f():\n    from ..playbooks.engine import PlaybookEngine\n    return PlaybookEngine\n")
    write("crawlers/pipes.py", "from monitor.enrich import Enricher\n")
    write("playbooks/mirror.py", "from crisiswatch.commands.kibana import kibana_client\n")
    write("monitor/typed.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from monitor.other import X\n")
    write("index/fine.py", "def f():\n    # lazy: heavy client, one path\n    import numpy\n\n"
                           "def g():\n    import json  # lazy: why\n")
    write("crisiswatch/commands/run.py", "def run():\n    from monitor.loop import run_forever\n")
    write("monitor/loop.py", "from crawlers.runner import run_crawls\n")
    assert wrong_way(tmp_path) == [
        "alerts/probe.py:2 (alerts) imports playbooks.engine (playbooks)",
        "crawlers/pipes.py:1 (crawlers) imports monitor.enrich (monitor)",
        "playbooks/mirror.py:1 (playbooks) imports crisiswatch.commands.kibana (cli)",
    ]
    assert hidden_imports(tmp_path) == {"alerts/probe.py": ["alerts/probe.py:2 imports playbooks.engine"],
                                        "monitor/typed.py": ["monitor/typed.py:3 imports monitor.other"]}
