"""The documentation links only inside the repository, and every link resolves.

README.md and docs/ carry the product contract; a link to a missing file, a missing
heading, an absolute path, a path above the repository root or any URL (which
would point outside the repository) fails the test.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", ".hypothesis", ".bazel-offline"}

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*)>")
_BARE_URL = re.compile(r"\b(?:https?|ftp)://[^\s)>\]]+|\bwww\.[^\s)>\]]+")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$", re.MULTILINE)


def markdown_files(root: Path) -> list[Path]:
    """Every Markdown file of the repository, outside tool and build directories."""
    return sorted(p for p in root.rglob("*.md")
                  if not any(part in SKIP_DIRS or part.startswith("bazel-") for part in p.relative_to(root).parts))


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and code spans (their contents are not links)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The heading anchors of a Markdown file, numbered as GitHub numbers repeats."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(heading)
        n = counts.get(base, 0)
        counts[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def link_problems(path: Path, root: Path) -> list[str]:
    """What is wrong with the links of one Markdown file, one line per bad link."""
    prose = _prose(path.read_text(encoding="utf-8"))
    where = path.relative_to(root)
    targets = _INLINE_LINK.findall(prose) + _REFERENCE_DEF.findall(prose) + _AUTOLINK.findall(prose)
    rest = _AUTOLINK.sub("", _REFERENCE_DEF.sub("", _INLINE_LINK.sub("", prose)))
    problems = [f"{where}: URL {url!r} points outside the repository" for url in _BARE_URL.findall(rest)]
    for target in targets:
        problem = _target_problem(path, root, target)
        if problem:
            problems.append(f"{where}: link {target!r} {problem}")
    return problems


def _target_problem(path: Path, root: Path, target: str) -> str | None:
    if not target:
        return "is empty"
    if _SCHEME.match(target) or target.startswith("//"):
        return "points outside the repository"
    file_part, _, anchor = target.partition("#")
    if file_part.startswith("/"):
        return "is an absolute path; use a path relative to the page"
    resolved = (path.parent / file_part).resolve() if file_part else path
    if resolved != root and root not in resolved.parents:
        return "leaves the repository"
    if not resolved.exists():
        return f"names {resolved.relative_to(root)}, which does not exist"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"names heading #{anchor}, which {resolved.relative_to(root)} does not have"
    return None


def test_readme_and_docs_link_only_to_existing_places_in_the_repository() -> None:
    files = markdown_files(REPO)
    assert REPO / "README.md" in files and REPO / "docs" / "README.md" in files
    problems = [p for f in files for p in link_problems(f, REPO)]
    assert not problems, "bad links:\n" + "\n".join(problems)


def test_every_docs_page_is_listed_in_the_docs_index() -> None:
    index = (REPO / "docs" / "README.md").read_text(encoding="utf-8")
    linked = {Path(t.partition("#")[0]).name for t in _INLINE_LINK.findall(_prose(index))}
    pages = {p.name for p in (REPO / "docs").glob("*.md")} - {"README.md"}
    assert pages <= linked, f"docs pages missing from docs/README.md: {sorted(pages - linked)}"


def test_the_checker_finds_each_kind_of_bad_link(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("# Title\n\n## Some `code` (here)\n", encoding="utf-8")
    (root / "README.md").write_text("\n".join([
        "[ok](docs/a.md) [ok](docs/a.md#title) [ok](docs/a.md#some-code-here) [ok](#top)",
        "# Top",
        "`[in code](https://example.com)` and",
        "```", "[in a fence](missing.md) https://example.com", "```",
        "[spec](../shared/SPEC.md)",
        "[web](https://example.com/page)",
        "[gone](docs/missing.md)",
        "[abs](/etc/passwd)",
        "[heading](docs/a.md#nope)",
        "see http://example.org for more",
        "[ref]: https://example.net",
    ]), encoding="utf-8")
    problems = link_problems(root / "README.md", root)
    assert len(problems) == 7, problems
    for needle in ("../shared/SPEC.md", "https://example.com/page", "docs/missing.md", "/etc/passwd",
                   "#nope", "http://example.org", "https://example.net"):
        assert any(needle in p for p in problems), (needle, problems)
