"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries (tools/setup
installs the ``postgresql`` package), run as the ``postgres`` user, listening on a unix
socket in a temporary directory only (``listen_addresses=''``), with fsync off (its data
is thrown away). Started once per session, on first use, and stopped at its end.

``pg_cluster`` (session) is the running cluster; ``pg_database`` (per test) makes fresh
databases, dropped when the test ends, and returns their ``postgresql://`` URIs.

When the binaries are missing, a test using them fails (it is never skipped): CI must
run the PostgreSQL suites for real.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Iterator

import pytest

#: Where Debian puts the server binaries of each major version.
_DEBIAN_BINARIES = "/usr/lib/postgresql/*/bin"
_USER = "postgres"


def server_binaries() -> str:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (the newest version)."""
    found = sorted((d for d in glob.glob(_DEBIAN_BINARIES) if os.path.exists(os.path.join(d, "initdb"))),
                   key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    if not found:
        on_path = shutil.which("initdb")
        if on_path:
            return os.path.dirname(os.path.realpath(on_path))
        pytest.fail("the PostgreSQL server binaries (initdb, pg_ctl) are missing: run tools/setup, which "
                    "installs Debian's postgresql package", pytrace=False)
    return found[-1]


def _as_postgres(args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    """Run ``args`` as the ``postgres`` user (the server refuses to run as root)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", _USER, "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


@dataclass
class Cluster:
    """A running throwaway cluster: its socket directory and how to reach its databases."""

    socket_dir: str
    data_dir: str
    bin_dir: str
    _admin: object = field(default=None, repr=False)

    def uri(self, database: str) -> str:
        """The event log URI of ``database`` on this cluster."""
        return f"postgresql:///{database}?host={self.socket_dir}&user={_USER}"

    def admin_conninfo(self) -> str:
        return f"dbname=postgres host={self.socket_dir} user={_USER}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) as the superuser."""
        import psycopg

        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute(sql)

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server: ``immediate`` (throwing its data away) or ``fast`` (keeping
        what committed: with fsync and synchronous_commit off, an immediate stop may not)."""
        _as_postgres([os.path.join(self.bin_dir, "pg_ctl"), "stop", "-D", self.data_dir, "-m", mode, "-w"])

    def start(self) -> None:
        options = (f"-c listen_addresses='' -c unix_socket_directories={self.socket_dir} -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        _as_postgres([os.path.join(self.bin_dir, "pg_ctl"), "start", "-D", self.data_dir, "-w", "-t", "60",
                      "-l", os.path.join(os.path.dirname(self.data_dir), "server.log"), "-o", options])


def start_cluster(root: str) -> Cluster:
    """initdb a cluster under ``root`` (which the postgres user must own) and start it."""
    bin_dir = server_binaries()
    try:
        pwd.getpwnam(_USER)
    except KeyError:
        pytest.fail(f"there is no {_USER!r} user to run the PostgreSQL server as: run tools/setup, which "
                    "installs Debian's postgresql package (it creates the user)", pytrace=False)
    data_dir = os.path.join(root, "data")
    socket_dir = os.path.join(root, "sock")
    os.makedirs(socket_dir)
    if os.geteuid() == 0:
        shutil.chown(root, _USER)
        shutil.chown(socket_dir, _USER)
    # C collation and UTF-8: keys sort by code point, as SQLite's and Python's strings do.
    _as_postgres([os.path.join(bin_dir, "initdb"), "-D", data_dir, "-U", _USER, "-E", "UTF8", "--locale=C",
                  "-A", "trust", "--no-sync"])
    cluster = Cluster(socket_dir, data_dir, bin_dir)
    cluster.start()
    return cluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """The session's throwaway PostgreSQL cluster (started on first use)."""
    # Under /tmp, not pytest's tmp_path: the postgres user must reach it, and a unix
    # socket path must stay under ~100 bytes.
    root = tempfile.mkdtemp(prefix="pgtest-")
    os.chmod(root, 0o755)
    try:
        cluster = start_cluster(root)
    except subprocess.CalledProcessError as e:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"the test PostgreSQL cluster did not start: {e.stderr or e.stdout}", pytrace=False)
    try:
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_database(pg_cluster: Cluster) -> Iterator[Callable[[], str]]:
    """Makes fresh, empty databases on the cluster (``make() -> uri``), dropped after the test."""
    made: list[str] = []

    def make() -> str:
        name = f"db_{secrets.token_hex(6)}"
        pg_cluster.execute(f"CREATE DATABASE {name}")
        made.append(name)
        return pg_cluster.uri(name)

    yield make
    for name in made:
        pg_cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
