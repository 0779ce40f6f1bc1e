"""Structured logs: one JSON object per line, carrying request and tenant ids.

The ids come from the call's context variables, so every log line written
while handling a call is attributable without passing ids around.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from services.runtime.context import request_id_var, tenant_var
from services.runtime.telemetry.trace_context import current_span_context

# Attributes every LogRecord has; anything else was passed with `extra=` and
# is copied into the JSON object.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        tenant = tenant_var.get()
        if tenant is not None:
            entry["tenant_id"] = tenant.tenant_id
        span = current_span_context()
        if span is not None:
            # The ids a trace backend finds the call by (the caller's, when tracing is off here).
            entry["trace_id"] = f"{span.trace_id:032x}"
            entry["span_id"] = f"{span.span_id:016x}"
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        request_id = request_id_var.get()
        prefix = f"[{request_id}] " if request_id else ""
        record.message = record.getMessage()
        line = f"{self.formatTime(record)} {record.levelname:<7} {record.name}: {prefix}{record.message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # SQLAlchemy and asyncio are chatty at INFO and may echo statement parameters.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.WARNING)
    # Alembic narrates every migration context at INFO; with one context per
    # tenant database that drowns everything else.
    logging.getLogger("alembic").setLevel(logging.WARNING)
