"""gRPC stubs bound to one caller."""

from __future__ import annotations

from typing import Any


class BoundStub:
    """A stub whose calls carry fixed metadata (a caller's token and tenant header)."""

    def __init__(self, stub: Any, metadata: tuple[tuple[str, str], ...]) -> None:
        self._stub = stub
        self._metadata = metadata

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._stub, name)

        def call(request: Any, **kwargs: Any) -> Any:
            return method(request, metadata=self._metadata + tuple(kwargs.pop("metadata", ())), **kwargs)

        return call
