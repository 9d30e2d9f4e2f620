"""Pictures of graphs on the dashboard: DOT text rendered to SVG by Graphviz's ``dot``.

``dot`` is a separate program (``tools/setup`` installs Debian's ``graphviz``); where it
is missing, fails or would take too long, a page shows its readable fallback (the same
graph as a list) with the reason, never an error. Rendered pictures are kept by key (a
build's id: its job graph is recorded once), so a page updating live renders once.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass

#: Longest ``dot`` may take for one picture before the page shows the fallback.
DOT_TIMEOUT_S = 10.0
#: Nodes above which no picture is drawn: ``dot`` is quadratic or worse in the graph's size.
MAX_NODES = 400
#: Pictures kept in memory (per dashboard).
CACHE_SIZE = 128


@dataclass(frozen=True)
class Picture:
    """An inline ``<svg>`` element, or None with ``note`` saying why there is none."""

    svg: str | None
    note: str = ""


def quote(text: str) -> str:
    """``text`` as a DOT double-quoted string (ids and labels: refs hold ``/``, ``=``, ``.``)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class DotRenderer:
    """Renders DOT to SVG with ``binary`` (``dot`` on the PATH by default), caching by key."""

    def __init__(self, binary: str | None = None, cache_size: int = CACHE_SIZE) -> None:
        self.binary = binary if binary is not None else (shutil.which("dot") or "")
        self._cache: OrderedDict[tuple[str, str], Picture] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()

    def picture(self, key: str, dot: str, nodes: int) -> Picture:
        """The picture of ``dot`` (a graph of ``nodes`` nodes), rendered once per (key, text)."""
        if not self.binary:
            return Picture(None, "Graphviz's dot is not installed here (tools/setup installs it)")
        if nodes > MAX_NODES:
            return Picture(None, f"{nodes} nodes: too many for a picture (at most {MAX_NODES})")
        cache_key = (key, hashlib.sha256(dot.encode()).hexdigest())
        with self._lock:
            if cache_key in self._cache:
                self._cache.move_to_end(cache_key)
                return self._cache[cache_key]
        picture = self._render(dot)
        if picture.svg is not None:  # a failure is retried on the next render
            with self._lock:
                self._cache[cache_key] = picture
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return picture

    def _render(self, dot: str) -> Picture:
        try:
            done = subprocess.run([self.binary, "-Tsvg"], input=dot.encode(), capture_output=True,
                                  timeout=DOT_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return Picture(None, f"dot took longer than {DOT_TIMEOUT_S:g} s")
        except OSError as e:
            return Picture(None, f"dot could not be started: {e}")
        if done.returncode != 0:
            return Picture(None, f"dot failed (exit {done.returncode}): "
                                 f"{done.stderr.decode(errors='replace').strip()[:300]}")
        text = done.stdout.decode("utf-8", errors="replace")
        start = text.find("<svg")  # inline: without the XML prolog and doctype
        if start < 0:
            return Picture(None, "dot's output holds no <svg> element")
        return Picture(text[start:])
