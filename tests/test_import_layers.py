"""Imports between monitor, playbooks and alerts point one way, and none hides in a function.

Layers, highest first (a module may import its own layer and those below, never above):
  apps      monitor.loop, monitor.flows, monitor.slack_app, monitor.dashboard, monitor.demo, monitor.backtest
            (they wire the domains together; the CLI in crisiswatch.commands sits on top of everything)
  playbooks playbooks.*   (use monitor's incidents and alerts)
  monitor   monitor.*     (enrichment, detection, incidents)
  alerts    alerts.*      (outbox, channels, escalation; use neither playbooks nor monitor)
An import inside a function from one of these packages into another is what hides a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

APPS = ("monitor.loop", "monitor.flows", "monitor.slack_app", "monitor.dashboard", "monitor.demo", "monitor.backtest")
LAYERS = {"apps": 3, "playbooks": 2, "monitor": 1, "alerts": 0}


def layer(module: str) -> str | None:
    if module.startswith(APPS):
        return "apps"
    top = module.split(".")[0]
    return top if top in LAYERS else None


def imports(path: Path, root: Path = REPO) -> list[tuple[str, bool]]:
    """(module, inside a function) for every import of the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                found.extend((a.name, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + ([base] if base
                                                                                                        else []))
                found.append((base, in_function))
                found.extend((f"{base}.{a.name}", in_function) for a in child.names)
            visit(child, nested)

    visit(tree, False)
    return found


def sources() -> list[Path]:
    return sorted(p for top in ("alerts", "monitor", "playbooks") for p in (REPO / top).rglob("*.py"))


def test_imports_point_one_way():
    wrong = []
    for path in sources():
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        mine = layer(module)
        for target, _ in imports(path):
            theirs = layer(target)
            if theirs and LAYERS[theirs] > LAYERS[mine]:
                wrong.append(f"{path.relative_to(REPO)} ({mine}) imports {target} ({theirs})")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_no_import_between_these_packages_hides_in_a_function():
    hidden = []
    for path in sources():
        rel = str(path.relative_to(REPO))
        own = rel.split("/")[0]
        for target, in_function in imports(path):
            if in_function and layer(target) and target.split(".")[0] != own:
                hidden.append(f"{rel} imports {target} inside a function")
    assert not hidden, "\n".join(sorted(set(hidden)))


def test_the_check_sees_a_violation(tmp_path):
    """The checker itself: an alerts module importing playbooks inside a function is caught, both ways."""
    probe = tmp_path / "alerts" / "probe.py"
    probe.parent.mkdir()
    probe.write_text("def f():\n    from ..playbooks.engine import PlaybookEngine\n    return PlaybookEngine\n")
    found = imports(probe, root=tmp_path)
    assert ("playbooks.engine", True) in found
    assert LAYERS[layer("playbooks.engine")] > LAYERS[layer("alerts.probe")]
