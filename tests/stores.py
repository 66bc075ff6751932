"""The state stores every state test runs on: SQLite and a real PostgreSQL (Debian's, started here).

One PostgreSQL server per test session (a few seconds to start), one fresh database per test
(CREATE DATABASE ... TEMPLATE, a tenth of a second): `state_url` is parametrised over both stores,
`store_config` is the usual test config with `state.url` set to it. Where PostgreSQL is not
installed the PostgreSQL cases skip with the reason, except under CI, where they fail.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import psycopg
import pytest

from crisiswatch.config import parse_config
from crisiswatch.db import connect
from crisiswatch.store.throwaway import ThrowawayPostgres, postgres_bin

STORES = ("sqlite", "postgresql")
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server():
    if postgres_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (make test installs it): the state tests need it")
        pytest.skip("PostgreSQL is not installed: apt-get install postgresql (make test does)")
    server = ThrowawayPostgres().start()
    # every test's database is a copy of one that already has the schema: no migration per test
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE cw_template")
    connect(server.url("cw_template")).close()
    yield server
    server.stop()


def new_database(server: ThrowawayPostgres) -> str:
    name = f"cw_test_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE cw_template")
    return server.url(name)


@pytest.fixture(params=STORES)
def state_url(request, tmp_path: Path) -> str:
    """A fresh, empty state store of each kind: the SQLite file the test config uses, or a new database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cw.db'}"
    return new_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def store_config(tmp_path: Path, state_url: str):
    from tests.conftest import config_dict

    return parse_config(config_dict(tmp_path, state={"url": state_url}), str(tmp_path / "crisiswatch.yaml"))
