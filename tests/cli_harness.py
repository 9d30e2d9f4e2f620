"""The CLI as users run it (``python -m databuild.cli``), on a graph written as a manifest."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator


class GraphCli:
    """Runs CLI commands of the graph ``manifest`` with its state in ``root/state``."""

    def __init__(self, root: Path, manifest: dict) -> None:
        path = root / "manifest.json"
        path.write_text(json.dumps(manifest))
        self.state = root / "state"
        self.env = dict(os.environ, DATABUILD_GRAPH_MANIFEST=str(path), DATABUILD_STATE_DIR=str(self.state))
        self.env.pop("DATABUILD_TOKEN", None)

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "databuild.cli", *args], env={**self.env, **env},
                              capture_output=True, text=True, timeout=60)

    def kill_daemon(self) -> None:
        info = self.state / "daemon.json"
        if info.exists():
            with contextlib.suppress(ProcessLookupError):  # already gone: nothing to clean up
                os.kill(json.loads(info.read_text())["pid"], signal.SIGKILL)


def echo_job(before_exec: str = "") -> str:
    """A job script that plans any ref it is asked for (one run, the ref its argument) and
    builds it by printing ``built REF``, after the shell commands ``before_exec``."""
    return (r"""#!/bin/sh
if [ "$1" = config ]; then
  shift; printf '{"configs": ['; sep=
  for r in "$@"; do printf '%s{"outputs": ["%s"], "args": ["%s"]}' "$sep" "$r" "$r"; sep=,; done
  printf ']}\n'; exit 0
fi
""" + (before_exec + "\n" if before_exec else "") + 'echo "built $2"\n')


@contextlib.contextmanager
def graph_cli(root: Path, manifest: dict) -> Iterator[GraphCli]:
    """A GraphCli whose daemon, if one was started, is killed at the end."""
    cli = GraphCli(root, manifest)
    try:
        yield cli
    finally:
        cli.kill_daemon()
