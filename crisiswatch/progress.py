"""Progress lines of a long command (`mentions remask`, `backtest`): to stderr, so the command's own output
on stdout stays what a script reads, on a terminal and in a log alike, and none with `--quiet`."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLines:
    """Prints the first line at once, then at most one every `every` seconds (a million posts are not
    2,000 lines); `every=0` prints each line (one a month of a backtest is already few)."""

    def __init__(self, quiet: bool = False, every: float = 2.0, stream: TextIO | None = None) -> None:
        self.quiet, self.every = quiet, every
        self.stream = stream
        self._shown: float | None = None

    def __call__(self, line: str) -> None:
        now = time.monotonic()
        if self.quiet or (self._shown is not None and now - self._shown < self.every):
            return
        self._shown = now
        print(line, file=self.stream or sys.stderr, flush=True)  # stderr read now: pytest's capsys swaps it
