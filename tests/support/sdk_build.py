"""Builds the SDKs as `make sdk` does and installs them where an integrator would: a fresh
virtualenv / a scratch npm project outside the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
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


def make(target: str) -> None:
    run("make", "--no-print-directory", target, cwd=REPO, timeout=600)


def python_wheel() -> Path:
    make("sdk-python")
    wheels = sorted(DIST.glob("tenantmesh_sdk-*.whl"), key=lambda p: p.stat().st_mtime)
    assert wheels, "make sdk-python built no wheel"
    return wheels[-1]


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


def npm_tarball() -> Path:
    make("sdk-typescript")
    tarballs = sorted(DIST.glob("tenantmesh-sdk-*.tgz"), key=lambda p: p.stat().st_mtime)
    assert tarballs, "make sdk-typescript packed nothing"
    return tarballs[-1]


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
    return fresh_virtualenv(tmp_path_factory.mktemp("sdk-venv") / "venv", python_wheel())


@pytest.fixture(scope="session")
def sdk_typescript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch npm project (outside the repository) with the packed tarball installed."""
    tarball = npm_tarball()
    # The package's own tests (stream reader, error parsing) over what was just built.
    run("node", "--test", "test/", cwd=SDK_TS)
    return scratch_npm_project(tmp_path_factory.mktemp("sdk-npm") / "app", tarball)
