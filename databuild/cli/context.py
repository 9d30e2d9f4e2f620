"""What every command needs: the graph, its state directory and event log.

A command that talks to a running daemon reads only the graph's label (to find the
daemon) and the service's JSON: it loads neither the manifest's validation nor
protobuf nor the storage stack, which the commands that need them import themselves.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from databuild.errors import InvalidArgumentError
from databuild.refs import compile_pattern, validate_ref
from databuild.timespec import parse_duration, parse_timestamp

if TYPE_CHECKING:
    from databuild.graph import GraphSpec
    from databuild.service import DataBuildService
    from databuild.service.client import ServiceClient
    from databuild.state import StateStore


def current_user() -> str:
    """The login name recorded as who asked (``getpass`` is imported only by the commands that record)."""
    import getpass

    return getpass.getuser()


def default_state_dir(graph_label: str) -> Path:
    """``~/.local/state/databuild/<graph>`` with the label made file-name safe."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", graph_label.strip("/:@")) or "graph"
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "databuild" / name


@dataclass
class CliContext:
    """Lazily opened graph and store for one CLI invocation."""

    state_dir_option: str | None
    bel_option: str | None
    as_json: bool
    service_url: str | None = None
    local: bool = False
    #: The job runs' backend (--executor / DATABUILD_EXECUTOR): None (local processes) or dask://HOST:PORT.
    executor: str | None = None
    _graph: GraphSpec | None = None
    _store: StateStore | None = field(default=None, repr=False)
    _service: "DataBuildService | ServiceClient | None" = field(default=None, repr=False)

    @property
    def graph(self) -> GraphSpec:
        """The graph's manifest, loaded and validated."""
        if self._graph is None:
            from databuild.graph import load_manifest

            self._graph = load_manifest(self._manifest_path(), os.environ.get("DATABUILD_RUNFILES"))
        return self._graph

    @property
    def graph_label(self) -> str:
        """The graph's label, read without validating the manifest: all a call to a running
        daemon needs (the daemon validated the manifest when it started). A manifest that
        cannot be read so is loaded in full, for its error."""
        if self._graph is None:
            try:
                label = json.loads(Path(self._manifest_path()).read_text())["label"]
            except (OSError, ValueError, KeyError, TypeError):
                label = None
            if isinstance(label, str) and label:
                return label
        return self.graph.label

    @staticmethod
    def _manifest_path() -> str:
        manifest = os.environ.get("DATABUILD_GRAPH_MANIFEST")
        if not manifest:
            raise click.UsageError("DATABUILD_GRAPH_MANIFEST is not set: run the <graph>.build binary Bazel built")
        return manifest

    @property
    def state_dir(self) -> Path:
        return Path(self.state_dir_option) if self.state_dir_option else default_state_dir(self.graph_label)

    @property
    def bel_uri(self) -> str:
        return self.bel_option or f"sqlite://{self.state_dir.absolute() / 'bel.sqlite3'}"

    @property
    def store(self) -> StateStore:
        if self._store is None:
            from databuild.state import open_state_store  # not imported by calls that go to the daemon

            if self.bel_option is None:  # the default log lives in the state directory, made on first use
                from databuild.service.daemon import make_state_dir

                make_state_dir(self.state_dir)
            self._store = open_state_store(self.bel_uri)
        return self._store

    @property
    def opened_log(self) -> bool:
        """Whether this invocation opened the event log itself (not only a service's)."""
        return self._store is not None

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def service(self) -> "DataBuildService | ServiceClient":
        """``--service`` if given; else the in-process service with ``--local``; else the
        state directory's daemon, started if none runs. All three have one interface."""
        if self._service is None:
            self._service = self._open_service()
        return self._service

    def _open_service(self) -> "DataBuildService | ServiceClient":
        from databuild.service.client import ServiceClient

        if self.service_url:
            return ServiceClient(self.service_url, os.environ.get("DATABUILD_TOKEN"))
        if self.local:
            from databuild.service import DataBuildService

            return DataBuildService(self.graph, self.store, str(self.log_dir), executor=self.executor)
        from databuild.procs import process_alive
        from databuild.service.daemon import ensure_daemon, read_info

        info = read_info(self.state_dir)
        if info is not None and process_alive(info.pid):
            # No health call first: the client checks the graph on the first answer (a write's, before it)
            client = ServiceClient(info.url, info.token, graph_label=self.graph_label)
            if client.reachable():
                return client
        # a bad manifest is the usage error it is here, not a daemon failing to start
        info = ensure_daemon(self.state_dir, self.graph.label, self.daemon_command())
        return ServiceClient(info.url, info.token)

    def read(self, operation: str, **fields: Any) -> dict:
        """The answer of read ``operation`` (a name in ``service/interface.py``) as the JSON
        contract's document; ``fields`` that are None are left out (their defaults)."""
        return self.call(operation, {name: value for name, value in fields.items() if value is not None})

    def call(self, operation: str, doc: dict) -> dict:
        """The answer of ``operation`` to the request document ``doc``, both in the JSON contract.

        Over HTTP that is the service's answer as sent, so the call never loads protobuf;
        with ``--local``, the in-process answer converted the same way."""
        from databuild.service.client import ServiceClient
        from databuild.service.interface import BY_NAME

        op, service = BY_NAME[operation], self.service
        if isinstance(service, ServiceClient):
            return service.call_json(op, doc)
        from databuild.proto.jsonmap import message_dict, parse_dict

        return message_dict(getattr(service, operation)(parse_dict(doc, op.request())))

    def daemon_command(self) -> list[str]:
        """How to start this very binary as the daemon of this state directory."""
        program = sys.argv[0]
        base = [program] if os.access(program, os.X_OK) and not program.endswith(".py") else [
            sys.executable, "-m", "databuild.cli"]
        executor = ["--executor", self.executor] if self.executor else []
        return [*base, "--state-dir", str(self.state_dir.absolute()), "--bel", self.bel_uri, *executor,
                "serve", "--daemon"]

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _click_callback(parse: Callable[[Any], Any], doc: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback applying ``parse`` to a given value; bad input exits 2 naming the value."""
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except InvalidArgumentError as e:
            raise click.BadParameter(str(e), ctx, param) from None
    callback.__doc__ = doc
    return callback


duration_option = _click_callback(parse_duration, "``90s``, ``15m``, ``6h``, ``2d`` -> seconds.")
timestamp_option = _click_callback(parse_timestamp, "An ISO 8601 date or datetime (UTC unless it says otherwise).")
pattern_option = _click_callback(lambda value: compile_pattern(value).pattern, "A ref glob, kept as given.")
ref_option = _click_callback(validate_ref, "One partition ref, validated.")


def _executor(value: str) -> str | None:
    from databuild.executor.backends import parse_executor  # only when the option is given

    parse_executor(value)
    return value.strip() or None


executor_option = _click_callback(_executor, "An executor URI (local or dask://HOST:PORT), validated, kept as given.")
refs_argument = _click_callback(lambda values: [validate_ref(v) for v in values], "Partition refs, each validated.")
