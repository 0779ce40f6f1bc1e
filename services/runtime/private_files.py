"""Files and directories only the platform's own user may read.

The data directory holds the core database (password hashes, sealed keys, service
configurations), tenant databases and mail spools: nothing in it is for other local
users. Directories are made 0700 and files 0600 whatever the umask, and an existing
one made by an older version is narrowed on the next start. SQLite gives its -wal and
-shm files the mode of the database file, so creating that file first covers them.
"""

from __future__ import annotations

import os
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> None:
    """``path`` and any parent it has to make, owner-only (existing parents are left alone)."""
    missing = [path, *(parent for parent in path.parents)]
    missing = [directory for directory in missing if not directory.exists()]
    path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    for directory in {path, *missing}:
        # mkdir's mode passes through the umask; chmod does not.
        os.chmod(directory, DIRECTORY_MODE)


def private_file(path: Path) -> None:
    """Creates ``path`` empty if it does not exist; either way it ends owner-only."""
    private_directory(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)
