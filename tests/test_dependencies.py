"""Every runtime dependency declared in pyproject.toml is used by the package, and 0.x ones are capped."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("crisiswatch", "crawlers", "monitor", "alerts", "playbooks", "index")
# distribution name -> the module it is imported as, where the two differ
IMPORT_NAMES = {"slack-sdk": "slack_sdk", "pyyaml": "yaml", "opensearch-py": "opensearchpy",
                "kibana-py": "kibana", "scikit-learn": "sklearn", "osmem-server": "osmem_server",
                "pytest-timeout": "pytest_timeout", "lingua-language-detector": "lingua",
                "vadersentiment": "vaderSentiment"}
# needed by a dependency's optional feature we use, imported there, not here
INDIRECT = {"itsdangerous": "starlette.middleware.sessions.SessionMiddleware signs cookies with it"}


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def name_of(requirement: str) -> str:
    """The distribution name, normalised as PEP 503 does (slack_sdk and slack-sdk are one package)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower())


def test_every_runtime_dependency_is_imported_somewhere():
    sources = "\n".join(p.read_text(encoding="utf-8") for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    unused = []
    for requirement in project()["dependencies"]:
        if name_of(requirement) in INDIRECT:
            continue
        module = IMPORT_NAMES.get(name_of(requirement), name_of(requirement).replace("-", "_"))
        if not re.search(rf"^\s*(?:from|import)\s+{re.escape(module)}\b", sources, re.MULTILINE):
            unused.append(name_of(requirement))
    assert not unused, f"declared but never imported: {unused}"


def test_zero_major_dependencies_have_an_upper_bound():
    extras = [r for group in project()["optional-dependencies"].values() for r in group]
    for requirement in [*project()["dependencies"], *extras]:
        lower = re.search(r">=\s*0\.(\d+)", requirement)
        if lower:
            assert "<" in requirement, f"{requirement}: a 0.x release may break its API; cap it"


def test_the_install_uses_the_constraints_file():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-c constraints.txt" in makefile
    pinned = {name_of(line) for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
              if line and not line.startswith("#")}
    assert {name_of(r) for r in project()["dependencies"]} <= pinned
