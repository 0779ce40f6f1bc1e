"""Reasons and states are enums: a typo is a type error, and each state enum mirrors its proto enum."""

from __future__ import annotations

import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from tenantmesh.registry.v1 import instance_pb2, service_pb2
from tenantmesh.tenants.v1 import tenant_pb2

from services.registry.definitions import ContractFormat, HealthState, ServiceKind
from services.runtime.errors import CommonReason, NotFound
from services.runtime.proto_values import from_proto, mirror_mismatch, to_proto
from services.tenants.reasons import TenantsReason
from services.tenants.states import StepState, TenantState

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("kind", "proto_enum"),
    [
        (TenantState, tenant_pb2.TenantState),
        (StepState, tenant_pb2.StepState),
        (ServiceKind, service_pb2.ServiceKind),
        (ContractFormat, service_pb2.ContractFormat),
        (HealthState, instance_pb2.HealthState),
    ],
)
def test_state_enums_mirror_the_protos(kind: type[StrEnum], proto_enum: Any) -> None:
    assert mirror_mismatch(kind, proto_enum) == set()
    for member in kind:
        assert from_proto(kind, proto_enum, to_proto(proto_enum, member)) is member
    assert from_proto(kind, proto_enum, 0) is None


def test_reasons_are_their_names_on_the_wire() -> None:
    error = NotFound("no such tenant", reason=CommonReason.TENANT_NOT_FOUND)
    assert error.reason == "TENANT_NOT_FOUND"
    assert TenantsReason.TENANT_SLUG_TAKEN == "TENANT_SLUG_TAKEN"
    assert NotFound("gone").reason == "NOT_FOUND"


def test_a_typo_in_a_reason_is_a_type_error(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "from services.runtime.errors import NotFound\n"
        "from services.tenants.reasons import TenantsReason\n"
        'NotFound("x", reason=TenantsReason.TENANT_SLUG_TAKEN)\n'
        'NotFound("x", reason="TENANT_NOT_FOUND")\n'
        'NotFound("x", reason=TenantsReason.TENANT_SLUG_TAKNE)\n'
    )
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), "--strict", str(snippet)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    errors = [line for line in checked.stdout.splitlines() if ": error:" in line]
    # The bare string and the misspelt member are refused; the correct member is not.
    assert [line.split(":")[1] for line in errors] == ["4", "5"], checked.stdout
