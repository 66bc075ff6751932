"""`crisiswatch serve`: the live dashboard and support console (and `--add-user` to create logins)."""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import secrets
import sys
from pathlib import Path

from crisiswatch.db import sqlite_path
from crisiswatch.errors import CrisiswatchError
from crisiswatch.indexurl import redact_url


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the live dashboard for PR teams and the support console",
                       description="Serve the dashboard. Logins come from CRISISWATCH_USERS (name:role:hash,...) "
                                   "and the users file; sessions are signed with CRISISWATCH_SECRET_KEY.")
    p.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1: behind a TLS proxy on this host")
    p.add_argument("--port", type=int, default=8470, help="default 8470")
    p.add_argument("--forwarded-allow-ips", metavar="ADDRS",
                   help="the TLS proxy in front, whose X-Forwarded-Proto is believed (the session cookie is then"
                        " Secure); comma-separated, default 127.0.0.1 or $FORWARDED_ALLOW_IPS")
    p.add_argument("--db", help="a SQLite file holding both index and state (e.g. crisiswatch-demo.db)")
    p.add_argument("--index-url", help="index backend URL (default: the config's index.url)")
    p.add_argument("--users-file", help="users file (default: dashboard-users.txt beside the state database)")
    p.add_argument("--add-user", metavar="NAME", help="store a user in the users file and exit")
    p.add_argument("--role", choices=("viewer", "agent", "admin"), default="viewer", help="role for --add-user")
    p.add_argument("--password-stdin", action="store_true", help="read the --add-user password from stdin")
    p.add_argument("--demo-login", action="store_true",
                   help="local use only: create an in-memory admin 'demo' with a random password, printed once")
    p.set_defaults(func=run)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    from crisiswatch.config import load_config
    from monitor.dashboard.auth import User, UserStore, hash_password, secret_key

    config = load_config(args.config)
    state_db = str(Path(args.db).resolve()) if args.db else str(config.state_store)
    if args.index_url:  # checked like the file's, in one line, before users are read or anything served
        config.with_overrides(index__url=args.index_url)
    index_url = args.index_url or (f"sqlite:///{state_db}" if args.db else config.index.url)
    default_users = Path(args.users_file) if args.users_file else (Path(state_db).parent if sqlite_path(state_db) else config.resolve(".")) / "dashboard-users.txt"
    if args.users_file:
        os.environ["CRISISWATCH_USERS_FILE"] = args.users_file
    users = UserStore.load(default_users)

    if args.add_user:
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(f"password for {args.add_user}: ")
        if len(password) < 8:
            raise CrisiswatchError("password too short: use at least 8 characters")
        user = users.add(args.add_user, args.role, password)
        print(f"stored {user.name} ({user.role}) in {users.path}")
        print(f"or, for the environment: CRISISWATCH_USERS=\"{user.name}:{user.role}:{user.password_hash}\"")
        return 0

    if args.demo_login:
        if not _is_loopback(args.host):
            raise CrisiswatchError("--demo-login is for local use: serve on 127.0.0.1 or localhost")
        password = secrets.token_urlsafe(12)
        users.users["demo"] = users.fixed["demo"] = User("demo", "admin", hash_password(password))
        print(f"demo login (this run only): user demo · password {password}")
    if not users.users:
        raise CrisiswatchError(f"no dashboard users: add one with `crisiswatch serve --add-user NAME --role agent`,"
                               f" set CRISISWATCH_USERS, or use --demo-login locally (users file {users.path})")

    import uvicorn

    from monitor.dashboard.app import create_app

    app = create_app(config, users, secret_key(lambda msg: print(msg, file=sys.stderr)),
                     index_url=index_url, state_db=state_db)
    print(f"dashboard on http://{args.host}:{args.port} · index {redact_url(index_url)}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=True,
                forwarded_allow_ips=args.forwarded_allow_ips)
    return 0
