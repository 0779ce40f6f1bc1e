"""Builds the SDKs as `make sdk` does and installs them where an integrator would: a fresh
virtualenv / a scratch npm project outside the repository."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"


def run(*args: str | Path, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


@contextlib.contextmanager
def repository_build() -> Iterator[None]:
    """One build in the repository at a time across the suite's workers: two makes of one target
    write the same files, and what one builds must not change under another reading it."""
    DIST.mkdir(exist_ok=True)
    with (DIST / ".tests-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def make(target: str) -> None:
    run("make", "--no-print-directory", target, cwd=REPO, timeout=600)


def built(target: str, pattern: str, into: Path) -> Path:
    """The newest file of dist/ matching ``pattern`` after ``make target``, copied to ``into``."""
    make(target)
    found = sorted(DIST.glob(pattern), key=lambda p: p.stat().st_mtime)
    assert found, f"make {target} built nothing matching {pattern}"
    into.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(found[-1], into))


def fresh_virtualenv(where: Path, *packages: str | Path) -> Path:
    """A new virtualenv (no system site-packages) with ``packages`` installed; its python."""
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    python = where / "bin" / "python"
    # The project's lock pins the SDK's dependencies to the versions its stubs were made with.
    run(
        python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "-c", REPO / "requirements.lock", *packages,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    return python


def mypy_strict(python: Path, script: Path, cwd: Path) -> str:
    """mypy --strict over ``script`` as a user of ``python``'s environment sees it."""
    mypy = Path(sys.executable).parent / "mypy"
    return run(mypy, "--strict", "--no-incremental", "--python-executable", python, script, cwd=cwd)


SDK_TS = REPO / "sdk" / "typescript"
TSC = SDK_TS / "node_modules" / ".bin" / "tsc"


def scratch_npm_project(where: Path, tarball: Path) -> Path:
    """A new npm project (ESM) with the tarball installed, as an integrator's would be."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "package.json").write_text('{"name": "scratch", "private": true, "type": "module"}\n')
    run("npm", "install", "--no-audit", "--no-fund", "--silent", tarball, cwd=where)
    return where


def tsc_strict(project: Path, *files: str) -> str:
    """tsc --strict over ``files`` of ``project``, resolving the SDK from its node_modules."""
    config = {
        "compilerOptions": {
            "target": "ES2022",
            "module": "NodeNext",
            "moduleResolution": "NodeNext",
            "lib": ["ES2022", "DOM", "DOM.Iterable"],
            "types": [],
            "strict": True,
            "noEmit": True,
        },
        "files": list(files),
    }
    (project / "tsconfig.json").write_text(json.dumps(config))
    return run(TSC, "-p", project / "tsconfig.json", cwd=project)


@pytest.fixture(scope="session")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtualenv (outside the repository) with the built wheel installed."""
    where = tmp_path_factory.mktemp("sdk-venv")
    with repository_build():
        wheel = built("sdk-python", "tenantmesh_sdk-*.whl", where / "dist")
    return fresh_virtualenv(where / "venv", wheel)


@pytest.fixture(scope="session")
def sdk_typescript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch npm project (outside the repository) with the packed tarball installed."""
    where = tmp_path_factory.mktemp("sdk-npm")
    with repository_build():
        tarball = built("sdk-typescript", "tenantmesh-sdk-*.tgz", where / "dist")
        # The package's own tests (stream reader, error parsing) over what was just built.
        run("node", "--test", "test/", cwd=SDK_TS)
    return scratch_npm_project(where / "app", tarball)
