"""MenuService handlers: thin adapters between protobuf and the domain."""

from __future__ import annotations

from typing import Any

import grpc
from google.api import httpbody_pb2
from tenantmesh.menus.v1 import menu_service_pb2 as pb
from tenantmesh.menus.v1 import menu_service_pb2_grpc as pb_grpc

from services.menus import convert
from services.menus.admin import MenuAdmin
from services.menus.menus import MenuBook

Context = grpc.aio.ServicerContext[Any, Any]


class MenuServicer(pb_grpc.MenuServiceServicer):
    def __init__(self, book: MenuBook, admin: MenuAdmin) -> None:
        self._book = book
        self._admin = admin

    async def GetMyMenu(self, request: pb.GetMyMenuRequest, context: Context) -> pb.GetMyMenuResponse:
        """Permission menus.my_menu.get, tenant-scoped. Reasons: FIELD_INVALID."""
        return (await self._book.my_menu(request.locale, request.if_none_match)).answer

    async def GetMyMenuJson(self, request: pb.GetMyMenuRequest, context: Context) -> httpbody_pb2.HttpBody:
        """Permission menus.my_menu.get, tenant-scoped. Reasons: FIELD_INVALID. GetMyMenu's answer as the
        JSON the edge would print of it, rendered once per cached menu."""
        return (await self._book.my_menu(request.locale, request.if_none_match)).body()

    async def ListMenuEntries(self, request: pb.ListMenuEntriesRequest, context: Context) -> pb.ListMenuEntriesResponse:
        """Permission menus.entries.list, tenant-scoped."""
        return await self._admin.list_entries()

    async def CreateCustomEntry(
        self, request: pb.CreateCustomEntryRequest, context: Context
    ) -> pb.CreateCustomEntryResponse:
        """Permission menus.custom_entries.create. Reasons: FIELD_INVALID, MENU_PARENT_NOT_FOUND, MENU_CYCLE,
        MENU_TOO_DEEP, MENU_ENTRY_DUPLICATE, MENU_TARGET_INVALID, MENU_LIMIT_REACHED."""
        row = await self._admin.create_custom(request.custom_entry, request.request_id)
        return pb.CreateCustomEntryResponse(custom_entry=convert.custom_to_proto(row))

    async def UpdateCustomEntry(
        self, request: pb.UpdateCustomEntryRequest, context: Context
    ) -> pb.UpdateCustomEntryResponse:
        """Permission menus.custom_entries.update. Reasons: MENU_ENTRY_NOT_FOUND, ETAG_MISMATCH, FIELD_INVALID,
        MENU_PARENT_NOT_FOUND, MENU_CYCLE, MENU_TOO_DEEP, MENU_TARGET_INVALID."""
        row = await self._admin.update_custom(request.custom_entry, list(request.update_mask.paths))
        return pb.UpdateCustomEntryResponse(custom_entry=convert.custom_to_proto(row))

    async def DeleteCustomEntry(
        self, request: pb.DeleteCustomEntryRequest, context: Context
    ) -> pb.DeleteCustomEntryResponse:
        """Permission menus.custom_entries.delete. Reasons: MENU_ENTRY_NOT_FOUND, ETAG_MISMATCH,
        MENU_ENTRY_HAS_CHILDREN."""
        await self._admin.delete_custom(request.entry_id, request.etag)
        return pb.DeleteCustomEntryResponse()

    async def SetMenuOverride(self, request: pb.SetMenuOverrideRequest, context: Context) -> pb.SetMenuOverrideResponse:
        """Permission menus.overrides.set. Reasons: ETAG_MISMATCH, FIELD_INVALID, MENU_PARENT_NOT_FOUND,
        MENU_CYCLE, MENU_TOO_DEEP, MENU_LIMIT_REACHED."""
        return pb.SetMenuOverrideResponse(override=await self._admin.set_override(request.override))

    async def ClearMenuOverride(
        self, request: pb.ClearMenuOverrideRequest, context: Context
    ) -> pb.ClearMenuOverrideResponse:
        """Permission menus.overrides.clear. Reasons: MENU_OVERRIDE_NOT_FOUND, ETAG_MISMATCH."""
        await self._admin.clear_override(request.key, request.etag)
        return pb.ClearMenuOverrideResponse()

    async def MoveMenuEntry(self, request: pb.MoveMenuEntryRequest, context: Context) -> pb.MoveMenuEntryResponse:
        """Permission menus.entries.move. Reasons: MENU_ENTRY_NOT_FOUND, FIELD_INVALID, MENU_PARENT_NOT_FOUND,
        MENU_CYCLE, MENU_TOO_DEEP, ETAG_MISMATCH."""
        return pb.MoveMenuEntryResponse(entry=await self._admin.move(request.key, request.parent, request.position))

    async def PreviewMenu(self, request: pb.PreviewMenuRequest, context: Context) -> pb.PreviewMenuResponse:
        """Permission menus.menus.preview. Reasons: USER_NOT_FOUND, FIELD_INVALID, ROLE_NOT_FOUND."""
        return await self._admin.preview(request)

    async def WhoCanSee(self, request: pb.WhoCanSeeRequest, context: Context) -> pb.WhoCanSeeResponse:
        """Permission menus.entries.who_can_see. Reasons: MENU_ENTRY_NOT_FOUND."""
        return await self._admin.who_can_see(request.key)

    async def WhatCanReach(self, request: pb.WhatCanReachRequest, context: Context) -> pb.WhatCanReachResponse:
        """Permission menus.menus.what_can_reach. Reasons: USER_NOT_FOUND."""
        return await self._admin.what_can_reach(request.user_id)
