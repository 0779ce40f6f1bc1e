"""MetaService: every process says what it is and what the mesh serves.

Through the edge GetServerInfo reaches whichever process hosts it first, so the list is
the mesh's (every public API of the built services of the manifest) together with this
process's own services, not one process's alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from tenantmesh.meta.v1 import meta_service_pb2, meta_service_pb2_grpc

from services.runtime.server import ServiceBinding, bind

META_SERVICE = meta_service_pb2.DESCRIPTOR.services_by_name["MetaService"].full_name


class MetaServicer(meta_service_pb2_grpc.MetaServiceServicer):
    def __init__(self, version: str, services: Sequence[str]) -> None:
        self._response = meta_service_pb2.GetServerInfoResponse(
            product="tenantmesh", version=version, services=sorted(services)
        )

    async def GetServerInfo(
        self, request: meta_service_pb2.GetServerInfoRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> meta_service_pb2.GetServerInfoResponse:
        """Public. Never fails."""
        return self._response


def meta_binding(version: str, services: Sequence[str], mesh: Sequence[str] = ()) -> ServiceBinding:
    """``services``: this process's; ``mesh``: every public API of the mesh."""
    return bind(MetaServicer(version, sorted({*services, *mesh, META_SERVICE})))
