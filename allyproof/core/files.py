"""The data folder holds the embedded database, the queue and the generated keys: owner-only.

Modes are given at creation (os.open / mkdir), not left to the process umask; SQLite gives its -wal
and -shm files the database file's mode, so creating the database file 0600 covers them.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Creates the folder owner-only; a folder that already exists keeps the mode its operator gave it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(path, DIR_MODE)  # mkdir's mode passes through the umask
    return path


def private_file(path: Path) -> Path:
    """Creates an empty owner-only file (SQLite takes an empty file as a new database), or tightens ours."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            os.chmod(path, FILE_MODE)
    return path
