"""The service credentials' API key exchange recovers from an auth address that was stale when it
started (an auth server that bound a fresh port meanwhile), instead of waiting on it to the end."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.runtime.credentials import api_key_credentials
from tests.support.platform import platform
from tests.support.ports import free_port


async def test_the_exchange_moves_to_the_auth_address_known_at_its_next_attempt(
    db_backend_url: str, tmp_path: Path
) -> None:
    async with platform(db_backend_url, tmp_path) as mesh:
        key = mesh.runtime.service_api_key
        assert key is not None
        stale = grpc.aio.insecure_channel(f"127.0.0.1:{free_port()}")  # nothing listens there
        live = grpc.aio.insecure_channel(mesh.runtime.addresses["auth"])
        asked: list[grpc.aio.Channel] = []

        def auth_channel() -> grpc.aio.Channel:
            # The first attempt sees the old address; by the next one the server is bound.
            asked.append(stale if not asked else live)
            return asked[-1]

        try:
            metadata = await api_key_credentials(lambda: key, auth_channel).metadata()
        finally:
            await stale.close()
            await live.close()
        assert metadata[0][0] == "authorization"
        assert metadata[0][1].startswith("Bearer ey")
        assert asked == [stale, live]
