"""No merge-conflict markers in tracked files: a stylesheet once shipped with `<<<<<<< HEAD … >>>>>>>` lines,
and Chromium silently dropped the rules around them (the checklist lost its style, a form its width)."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO

MARKER = re.compile(rb"^(?:<{7}|>{7}|={7})(?: |$)", re.M)


def test_no_tracked_file_holds_a_conflict_marker():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    marked = []
    for name in filter(None, files):
        path = REPO / name.decode()
        if not path.is_file() or path.suffix in {".npz", ".png", ".db", ".gz"}:
            continue
        data = path.read_bytes()
        if b"\0" not in data[:4096] and MARKER.search(data):
            marked.append(name.decode())
    assert marked == []
