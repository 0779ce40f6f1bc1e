"""The OpenTelemetry context of the call being served: its server span, or tracing switched off.

Each call runs in a task of its own, so what is set here ends with the call and needs no token to
undo. The API's way, ``context.attach(trace.set_span_in_context(span))``, goes through four
functions to copy the current context, add one key and set the context variable; with the
default runtime context (a ``ContextVar`` holding a ``Context``) the same is done here directly.
Any other runtime context (``OTEL_PYTHON_CONTEXT``) gets the API's way.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import partial

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _RUNTIME_CONTEXT, _SUPPRESS_INSTRUMENTATION_KEY, Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace.propagation import _SPAN_KEY


def _current_context_var() -> ContextVar[Context] | None:
    if type(_RUNTIME_CONTEXT) is ContextVarsRuntimeContext:
        return _RUNTIME_CONTEXT._current_context
    return None


_CURRENT = _current_context_var()


def _set(key: str, value: object) -> None:
    if _CURRENT is None:
        otel_context.attach(otel_context.set_value(key, value))
        return
    values = _CURRENT.get().copy()
    values[key] = value
    _CURRENT.set(Context(values))


# functools.partial calls ``_set`` from C: no frame of its own on a call's path.
enter_span: Callable[[trace.Span], None] = partial(_set, _SPAN_KEY)
enter_span.__doc__ = """Makes a span the current span for the rest of the call (what the SQL, Redis and
outgoing-call instrumentations and the logs read)."""

suppress_instrumentation: Callable[[], None] = partial(_set, _SUPPRESS_INSTRUMENTATION_KEY, True)
suppress_instrumentation.__doc__ = """Switches the instrumentations off for the rest of the call: their own
off switch (opentelemetry.instrumentation.utils.is_instrumentation_enabled)."""
