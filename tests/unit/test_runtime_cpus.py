"""Usable CPUs: the affinity set capped by a cgroup CPU quota, and the argon2 pool sized from it."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from services.auth import passwords
from services.auth.settings import load_auth_settings
from services.runtime.config import ConfigError
from services.runtime.cpus import cgroup_cpu_quota, usable_cpus

AFFINITY = len(os.sched_getaffinity(0))


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "50000 100000\n"}, 0.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ({"cpu.max": "garbage\n"}, None),
        ({}, None),
    ],
    ids=["v2-unlimited", "v2-1.5", "v2-0.5", "v1-unlimited", "v1-2", "unreadable", "no-cgroup"],
)
def test_cgroup_quota_is_read_from_v2_then_v1(tmp_path: Path, files: dict[str, str], quota: float | None) -> None:
    for relative, text in files.items():
        write(tmp_path, relative, text)
    assert cgroup_cpu_quota(tmp_path) == quota


def test_usable_cpus_is_the_affinity_set_capped_by_the_quota_rounded_up(tmp_path: Path) -> None:
    assert usable_cpus(tmp_path) == AFFINITY  # no quota
    write(tmp_path, "cpu.max", "50000 100000")
    assert usable_cpus(tmp_path) == 1  # half a CPU still runs one thread
    write(tmp_path, "cpu.max", f"{(AFFINITY + 8) * 100000} 100000")
    assert usable_cpus(tmp_path) == AFFINITY  # a quota above the CPUs one may run on adds none


def test_hashing_threads_default_to_the_usable_cpus_and_can_be_set(tmp_path: Path) -> None:
    env = {"TENANTMESH_KEY_ENCRYPTION_KEY": "A" * 43 + "="}
    assert load_auth_settings(tmp_path, env).hashing_threads == usable_cpus()
    assert load_auth_settings(tmp_path, {**env, "TENANTMESH_AUTH_HASHING_THREADS": "1"}).hashing_threads == 1
    with pytest.raises(ConfigError, match="TENANTMESH_AUTH_HASHING_THREADS"):
        load_auth_settings(tmp_path, {**env, "TENANTMESH_AUTH_HASHING_THREADS": "0"})


async def test_the_hashing_pool_runs_on_the_threads_it_is_given() -> None:
    before = passwords.hashing_threads()
    try:
        passwords.set_hashing_threads(1)
        stored = await passwords.hash_password("correct horse battery staple")
        assert (await passwords.verify_password(stored, "correct horse battery staple")).ok
        assert passwords.hashing_threads() == 1
        # White-box: concurrent work all lands on the one thread.
        names = await asyncio.gather(
            *(passwords._HASHING.run(lambda: threading.current_thread().name) for _ in range(4))
        )
        assert set(names) == {"argon2_0"}
        with pytest.raises(ValueError, match="at least one thread"):
            passwords.set_hashing_threads(0)
    finally:
        passwords.set_hashing_threads(before)
