"""The `crisiswatch` console script.

Each sub-command lives in its own module under `crisiswatch/commands/` and exposes
`register(subparsers)`, which adds its parser and sets `func(args) -> int`. The CLI
discovers them, so adding a command never touches this file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from pathlib import Path

from crisiswatch import commands
from crisiswatch.config import DB_ENV, STATE_URL_ENV
from crisiswatch.errors import CrisiswatchError
from crisiswatch.indexurl import redact_url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crisiswatch",
        description="Brand crisis monitoring: collect, enrich, index, detect, respond.",
    )
    parser.add_argument("--config", "-c", metavar="FILE",
                        help="config file (default: $CRISISWATCH_CONFIG, else ./crisiswatch.yaml, else "
                             "./crisiswatch.example.yaml, else the built-in defaults, which watch no brand)")
    parser.add_argument("--db", dest="state_db", metavar="FILE",
                        help=f"the state database (and the SQLite index) every command uses (or ${DB_ENV})")
    parser.add_argument("--state-url", metavar="URL",
                        help=f"the state store: sqlite:///FILE or postgresql://USER@HOST/DB (or ${STATE_URL_ENV})")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    _describe(parser)
    return parser


def _describe(parser: argparse.ArgumentParser) -> None:
    """Each command's own --help opens with the line the command list shows for it, so `crisiswatch status
    --help` says what status does (a command module may give a longer description of its own)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                if not child.description and helps.get(name):
                    child.description = helps[name]
                _describe(child)


READERS = {"status", "report", "mentions", "ticket list", "ticket show"}  # commands that only look


def _reads_a_missing_database(args: argparse.Namespace) -> str | None:
    """The database a reading command was pointed at, when there is none there: a typo, not an empty queue."""
    name = f"{args.command} {getattr(args, 'ticket_command', '')}".strip()
    path = os.environ.get(DB_ENV)
    if name not in READERS or not path or Path(path).exists():
        return None
    return path


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # --db travels as the environment variable, so every command's config and every process a command
    # starts (each crawl runs in its own) find the same database; restored after the command
    before = {name: os.environ.get(name) for name in (DB_ENV, STATE_URL_ENV)}
    if args.state_db and "://" in args.state_db:  # it became a folder "postgresql:" holding a new SQLite file
        print(f"crisiswatch: --db takes a SQLite file path; a store named by URL goes to --state-url "
              f"({redact_url(args.state_db)})", file=sys.stderr)
        return 2
    if args.state_db:
        os.environ[DB_ENV] = str(Path(args.state_db).resolve())
    if args.state_url:
        os.environ[STATE_URL_ENV] = args.state_url
    try:
        if missing := _reads_a_missing_database(args):
            raise CrisiswatchError(f"no database at {missing} (check --db or ${DB_ENV}; `crisiswatch run` or "
                                   "`crisiswatch demo` make one)")
        return int(args.func(args) or 0)
    except CrisiswatchError as exc:
        print(f"crisiswatch: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("crisiswatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `| head` has read enough: nothing is wrong, and nothing more can be written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        # Bad input is caught where it is read and said in one line; what reaches here is a bug or
        # an environment problem, still said in one line unless --debug asks for the traceback.
        if args.debug:
            raise
        print(f"crisiswatch: unexpected error: {type(exc).__name__}: {redact_url(str(exc))[:300]} "
              "(run again with --debug for the traceback)", file=sys.stderr)
        return 1
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


if __name__ == "__main__":
    sys.exit(main())
