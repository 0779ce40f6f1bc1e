"""Request id: accept the caller's ``x-request-id`` or mint one, and return it."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from services.runtime.context import client_address_var, request_id_var

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall

REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID_MAX_LENGTH = 128
# Ids end up in logs: accept only plain tokens, so a caller cannot inject
# log lines or huge values through the header. The edge replaces any other the same way
# (envoy/envoy.yaml.j2), so its log names the id the services use.
_ACCEPTABLE = re.compile(rf"^[A-Za-z0-9._:-]{{1,{REQUEST_ID_MAX_LENGTH}}}$")


async def request_id_stage(call: IncomingCall) -> None:
    incoming = call.metadata.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _ACCEPTABLE.match(incoming) else str(uuid.uuid4())
    request_id_var.set(request_id)
    call.response_headers.append((REQUEST_ID_HEADER, request_id))


# Set by the edge on every request it forwards, overwriting whatever the client sent
# (envoy/envoy.yaml.j2); believed only from the edge's mesh identity (the identity stage
# drops it from anyone else's calls).
CLIENT_ADDRESS_HEADER = "x-tenantmesh-client-address"
# An IPv4 or IPv6 address as Envoy writes it; anything else is ignored (it goes to logs).
_ADDRESS = re.compile(r"^[0-9A-Fa-f:.]{2,45}$")


async def client_address_stage(call: IncomingCall) -> None:
    """Records the caller's address: the edge's view of it (a call from the edge), else the gRPC peer."""
    edge_view = call.metadata.get(CLIENT_ADDRESS_HEADER, "")
    client_address_var.set(edge_view if _ADDRESS.match(edge_view) else call.peer)
