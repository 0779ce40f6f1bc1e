"""What the edge asks about: Envoy's descriptors, read into the counters they name.

The edge sends, for a request of a tenant (the verified token's tenant, or x-tenant-id where
the edge checks no tokens), two descriptors (envoy/envoy.yaml.j2):

    [tenant_id=<id>]                                   the tenant's requests
    [tenant_id=<id>, destination_cluster=<service>]    the tenant's requests to one service

Any other shape is not limited here (answered OK), as Envoy's reference service answers
descriptors its configuration does not know.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from envoyapi.service.ratelimit.v3 import rls_pb2

from services.ratelimit.limits import Scope
from services.runtime.errors import FieldViolation, InvalidArgument

DOMAIN = "tenantmesh"
TENANT_KEY = "tenant_id"
# The key Envoy's destination_cluster action writes.
CLUSTER_KEY = "destination_cluster"
MAX_DESCRIPTORS = 16
MAX_HITS = 1_000_000
_VALUE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class Counted:
    """A descriptor this service limits."""

    scope: Scope
    tenant_id: str
    # What its counter is called (without the window).
    name: str


# Requests already read, by their bytes: the edge asks the same few shapes over and over (each
# tenant's two descriptors), and reading one field by field costs half of what answering it does.
_read: dict[bytes, tuple[list[Counted | None], int]] = {}
MAX_REMEMBERED = 10_000


def read_request(request: rls_pb2.RateLimitRequest) -> tuple[list[Counted | None], int]:
    """Each descriptor's counter (None: not limited here) and the hits the request adds.
    Raises InvalidArgument for a request the edge would never send. The list is shared between
    calls: not to be changed."""
    key = request.SerializeToString(deterministic=True)
    found = _read.get(key)
    if found is None:
        found = _read_fields(request)
        if len(_read) >= MAX_REMEMBERED:
            _read.clear()
        _read[key] = found
    return found


def _read_fields(request: rls_pb2.RateLimitRequest) -> tuple[list[Counted | None], int]:
    violations: list[FieldViolation] = []
    if request.domain != DOMAIN:
        violations.append(FieldViolation("domain", f"must be {DOMAIN!r}"))
    if len(request.descriptors) > MAX_DESCRIPTORS:
        violations.append(FieldViolation("descriptors", f"at most {MAX_DESCRIPTORS}"))
    if request.hits_addend > MAX_HITS:
        violations.append(FieldViolation("hits_addend", f"at most {MAX_HITS}"))
    counted: list[Counted | None] = []
    for index, descriptor in enumerate(request.descriptors):
        for position, entry in enumerate(descriptor.entries):
            if entry.key in (TENANT_KEY, CLUSTER_KEY) and _VALUE.fullmatch(entry.value) is None:
                violations.append(
                    FieldViolation(
                        f"descriptors[{index}].entries[{position}].value",
                        "1-64 letters, digits, '_', '.' or '-'",
                    )
                )
        counted.append(_counted(descriptor.entries))
    if violations:
        raise InvalidArgument("the rate limit request is not one the edge sends", violations=violations)
    return counted, request.hits_addend or 1


def _counted(entries: Sequence[rls_pb2.RateLimitDescriptor.Entry]) -> Counted | None:
    keys = [entry.key for entry in entries]
    # The tenant as the services read it (TenantStage lower-cases x-tenant-id): "ABC…" and
    # "abc…" are one tenant, so they are one counter, not two quotas.
    if keys == [TENANT_KEY]:
        tenant = entries[0].value.lower()
        return Counted(Scope.TENANT, tenant, f"t:{tenant}")
    if keys == [TENANT_KEY, CLUSTER_KEY]:
        tenant, cluster = entries[0].value.lower(), entries[1].value
        return Counted(Scope.ROUTE, tenant, f"r:{tenant}:{cluster}")
    return None
