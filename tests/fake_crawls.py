"""A stand-in for the crawl process the run loop starts (`subprocess.Popen` in `monitor.loop`): `run(cmd, env)`
does the crawl's work in the test's process and gives its exit status."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable


def crawls(run: Callable[[list[str], dict[str, str]], int], seconds: float = 0.0,
           at_end: Callable[[], object] | None = None) -> type:
    """A Popen-like class whose processes exit with `run`'s status, after `seconds` (0: at once); `at_end` is
    called as one ends by itself (what the test looks at then)."""

    class Crawl:
        def __init__(self, cmd: list[str], env: dict[str, str] | None = None, **_: object) -> None:
            self.done_at = time.monotonic() + seconds
            self.returncode: int | None = None
            self.code = run(cmd, env or {})
            self.stopped = False

        def poll(self) -> int | None:
            if self.returncode is None and (self.stopped or time.monotonic() >= self.done_at):
                self.returncode = -15 if self.stopped else self.code
                if at_end is not None and not self.stopped:
                    at_end()
            return self.returncode

        def wait(self, timeout: float | None = None) -> int:
            deadline = None if timeout is None else time.monotonic() + timeout
            while self.poll() is None:
                if deadline is not None and time.monotonic() >= deadline:
                    raise subprocess.TimeoutExpired("crawl", timeout)
                time.sleep(0.01)
            return self.returncode

        def terminate(self) -> None:
            self.stopped = True

        kill = terminate

    return Crawl
