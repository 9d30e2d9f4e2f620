"""Where the example jobs keep their files: $DATABUILD_DATA_DIR/<ref>."""

import os
from pathlib import Path


def path(ref: str) -> Path:
    root = os.environ.get("DATABUILD_DATA_DIR") or os.path.expanduser("~/.local/share/databuild-examples")
    return Path(root) / ref


def read_lines(ref: str) -> list[str]:
    return path(ref).read_text().split()


def write(ref: str, text: str) -> None:
    target = path(ref)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(target)  # atomic: readers never see half a partition
