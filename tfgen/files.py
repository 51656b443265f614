"""Writing outputs so that a crash never leaves a half-written file that looks finished."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary sibling path to write; renames it onto ``path`` on success.

    Works for files and for directories (a SavedModel): an existing directory at
    ``path`` is replaced only after the new one is complete.
    """
    path = Path(path)
    # The suffix stays last so that writers which pick a format by extension still work.
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    remove(tmp)
    try:
        yield tmp
        if tmp.is_dir() and path.exists():
            old = path.with_name(f".{path.name}.old")
            remove(old)
            os.replace(path, old)
            os.replace(tmp, path)
            remove(old)
        else:
            os.replace(tmp, path)
    finally:
        remove(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Writes a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def remove(path: Path) -> None:
    """Deletes a file, a link or a whole directory, if there is one."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
