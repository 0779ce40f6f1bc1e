"""The data directory is the platform's alone: every file the services make there (core and
tenant databases with their WAL files, secrets) is 0600 and every directory 0700, whatever
the umask; files an older version left readable are narrowed at the next start."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from services.runtime.private_files import private_directory, private_file
from tests.support.platform import platform


def _modes(root: Path) -> dict[str, int]:
    return {str(path.relative_to(root)): stat.S_IMODE(path.stat().st_mode) for path in root.rglob("*")}


async def test_data_files_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old_umask = os.umask(0o022)
    try:
        async with platform(f"sqlite+aiosqlite:///{data / 'core.db'}", data) as mesh:
            await mesh.create_tenant("private")
            modes = _modes(data)
    finally:
        os.umask(old_umask)
    assert "core.db" in modes
    assert any(name.startswith("tenants/") for name in modes)
    loose = {name: oct(mode) for name, mode in modes.items() if mode != (0o700 if (data / name).is_dir() else 0o600)}
    assert not loose, f"readable by others: {loose}"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_existing_files_and_directories_are_narrowed(tmp_path: Path) -> None:
    directory = tmp_path / "old"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    file = directory / "core.db"
    file.write_bytes(b"")
    os.chmod(file, 0o644)
    private_file(file)
    private_directory(directory)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
