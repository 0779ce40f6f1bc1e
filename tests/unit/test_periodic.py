"""The runtime's periodic background rounds: a failed round is logged and the next one still runs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.runtime.background import Periodic


async def test_a_failed_round_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[int] = []
    third = asyncio.Event()

    async def round_of_work() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("database away")
        if len(rounds) == 3:
            third.set()

    periodic = Periodic("test-rounds", round_of_work, 0.01, logging.getLogger("tests.periodic"))
    periodic.start()
    periodic.start()  # a second start does not start a second loop
    await asyncio.wait_for(third.wait(), timeout=5)
    await periodic.stop()
    done = len(rounds)
    await asyncio.sleep(0.05)
    assert len(rounds) == done >= 3
    [failed] = [record for record in caplog.records if record.exc_info]
    assert failed.name == "tests.periodic"
    assert isinstance(failed.exc_info[1], RuntimeError)  # type: ignore[index]
