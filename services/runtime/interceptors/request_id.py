"""Request id: accept the caller's ``x-request-id`` or mint one, and return it."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from services.runtime.context import client_address_var, request_id_var

if TYPE_CHECKING:
    from services.runtime.interceptors.chain import IncomingCall

REQUEST_ID_HEADER = "x-request-id"
# Ids end up in logs: accept only plain tokens, so a caller cannot inject
# log lines or huge values through the header.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


async def request_id_stage(call: IncomingCall) -> None:
    incoming = call.metadata.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _ACCEPTABLE.match(incoming) else str(uuid.uuid4())
    request_id_var.set(request_id)
    call.response_headers.append((REQUEST_ID_HEADER, request_id))


async def client_address_stage(call: IncomingCall) -> None:
    """Records the caller's address: Envoy's external address header, else the peer."""
    edge_view = call.metadata.get("x-envoy-external-address", "")
    client_address_var.set(edge_view[:64] if edge_view else call.peer)
