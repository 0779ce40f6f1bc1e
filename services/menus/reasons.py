"""ErrorInfo reasons of the menus service."""

from __future__ import annotations

from enum import auto

from services.runtime.errors import Reason


class MenusReason(Reason):
    MENU_ENTRY_NOT_FOUND = auto()
    MENU_OVERRIDE_NOT_FOUND = auto()
    MENU_PARENT_NOT_FOUND = auto()
    MENU_CYCLE = auto()
    MENU_TOO_DEEP = auto()
    MENU_ENTRY_DUPLICATE = auto()
    MENU_ENTRY_HAS_CHILDREN = auto()
    MENU_TARGET_INVALID = auto()
    # A tenant's custom entries, or its overrides of entries that are not there, are at their maximum.
    MENU_LIMIT_REACHED = auto()
    USER_NOT_FOUND = auto()
    ROLE_NOT_FOUND = auto()
