"""Pessimistic disconnect handling for MySQL pools, without a round trip per checkout."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.pool import ConnectionPoolEntry

# A pooled MySQL connection idle for longer than this is pinged before use.
PING_AFTER_IDLE_SECONDS = 30.0
_IDLE_SINCE = "tenantmesh_idle_since"


class LivenessCheck:
    """A connection the server closed (restart, ``wait_timeout``, ``KILL``) is noticed by
    the driver from the socket itself (the peer's FIN), as asyncmy's own pool does; such a
    connection invalidates the pool on checkout, exactly as a failed pre-ping would. A
    connection idle for longer than PING_AFTER_IDLE_SECONDS, or one whose driver cannot
    tell, is pinged as with ``pool_pre_ping``.
    """

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect

    def listen(self, engine: Engine) -> None:
        event.listen(engine, "connect", self._touch)
        event.listen(engine, "checkin", self._touch)
        event.listen(engine, "checkout", self._check)

    @staticmethod
    def _touch(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def _check(self, dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        broken = getattr(getattr(dbapi_connection, "driver_connection", None), "_stream_broken", None)
        if broken is True:
            raise InvalidatePoolError("the server closed the connection")
        idle_since = record.info.get(_IDLE_SINCE)
        if broken is False and idle_since is not None and time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            self._dialect.do_ping(dbapi_connection)
        except self._dialect.loaded_dbapi.Error as exc:
            if self._dialect.is_disconnect(exc, dbapi_connection, None):
                raise InvalidatePoolError("ping on checkout failed") from exc
            raise
