"""The dashboard's Graphviz pictures: real ``dot``, its fallbacks, its cache."""

from __future__ import annotations

import shutil

import pytest

from databuild.service.dashboard.graphviz import MAX_NODES, DotRenderer, quote

DOT = 'digraph g { ' + quote('a/x=1') + ' -> ' + quote('job "b"') + ' }'


@pytest.mark.skipif(not shutil.which("dot"), reason="tools/setup installs graphviz")
def test_renders_an_inline_svg_with_its_nodes_once_per_key(tmp_path):
    counter = tmp_path / "calls"
    wrapper = tmp_path / "dot"
    wrapper.write_text(f'#!/bin/sh\necho x >> {counter}\nexec {shutil.which("dot")} "$@"\n')
    wrapper.chmod(0o755)
    renderer = DotRenderer(str(wrapper))
    first = renderer.picture("build-1", DOT, nodes=2)
    assert first.svg is not None and first.svg.startswith("<svg")
    assert "a/x=1" in first.svg and "job &quot;b&quot;" in first.svg
    assert renderer.picture("build-1", DOT, nodes=2) == first
    assert len(counter.read_text().split()) == 1


def test_falls_back_with_a_reason_when_dot_is_missing_fails_or_the_graph_is_large(tmp_path):
    assert "not installed" in DotRenderer("").picture("k", DOT, 2).note
    failing = tmp_path / "dot"
    failing.write_text("#!/bin/sh\necho 'syntax error in line 1' >&2\nexit 3\n")
    failing.chmod(0o755)
    picture = DotRenderer(str(failing)).picture("k", DOT, 2)
    assert picture.svg is None and "exit 3" in picture.note and "syntax error" in picture.note
    assert "too many" in DotRenderer(str(failing)).picture("k", DOT, MAX_NODES + 1).note
