from __future__ import annotations

import asyncio

# Imported for their descriptors, which load_policies reads from the default pool.
from tenantmesh.forms.v1 import form_service_pb2  # noqa: F401
from tenantmesh.menus.v1 import menu_service_pb2  # noqa: F401

from services.runtime.access import load_policies
from services.runtime.db.replica_reads import PrimaryPins


def test_read_rpcs_are_declared_read_only_and_writes_are_not() -> None:
    forms = load_policies(["tenantmesh.forms.v1.FormService"])
    menus = load_policies(["tenantmesh.menus.v1.MenuService"])
    assert forms["/tenantmesh.forms.v1.FormService/GetForm"].read_only
    assert forms["/tenantmesh.forms.v1.FormService/ListForms"].read_only
    assert menus["/tenantmesh.menus.v1.MenuService/GetMyMenu"].read_only
    assert not forms["/tenantmesh.forms.v1.FormService/CreateForm"].read_only


async def test_pins_run_out() -> None:
    pins = PrimaryPins(0.05, max_pins=2)
    await pins.pin("main", "t1", "a")
    assert await pins.pinned("main", "t1", "a")
    assert not await pins.pinned("main", "t1", "b")
    await pins.pin("main", "t2", "a")
    await pins.pin("main", "t3", "a")  # beyond max_pins: the oldest goes
    assert not await pins.pinned("main", "t1", "a")
    await asyncio.sleep(0.06)
    assert not await pins.pinned("main", "t3", "a")
