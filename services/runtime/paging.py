"""AIP-158 paging: page size rules and opaque keyset page tokens.

A token records the last key of the page and a fingerprint of the filters it
was issued for and of the call's tenant, so a token replayed with other filters
or in another tenant, or one that does not decode, is refused instead of
silently returning the wrong rows. Tokens are
not signed: an edited but well-formed token only moves the start of a listing
the caller may read anyway.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from services.runtime.context import tenant_var
from services.runtime.errors import CommonReason, FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_TOKEN_VERSION = 1
# Every listing pages by one of its own columns (an id, a name, a key), none longer than 255
# characters: a longer key was not issued by a list and is refused before it reaches a query.
MAX_KEY_LENGTH = 255


T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    size: int
    after: str | None  # last key of the previous page

    @property
    def limit(self) -> int:
        """Rows to fetch: one more than the page, to tell whether another page follows."""
        return self.size + 1


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the token of the next one (empty at the end)."""

    items: list[T]
    next_page_token: str


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument(
            "page_size must not be negative",
            violations=[FieldViolation("page_size", "must be greater than or equal to 0")],
        )
    return DEFAULT_PAGE_SIZE if requested == 0 else min(requested, MAX_PAGE_SIZE)


def fingerprint(*filters: object) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode_token(last_key: str, filters_fingerprint: str) -> str:
    body = json.dumps({"v": _TOKEN_VERSION, "k": last_key, "f": filters_fingerprint}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_token(token: str, filters_fingerprint: str) -> str | None:
    """Returns the key to continue after, None for the first page."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        valid = (
            isinstance(body, dict)
            and body.get("v") == _TOKEN_VERSION
            and _is_key(body.get("k"))
            and body.get("f") == filters_fingerprint
        )
    except (ValueError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise InvalidArgument(
            "page_token is not a token this list issued for these filters",
            reason=CommonReason.PAGE_TOKEN_INVALID,
            violations=[FieldViolation("page_token", "unknown, tampered or issued for other filters")],
        )
    key: str = body["k"]
    return key


def _is_key(value: object) -> bool:
    """Whether a token's key could be a listing's: text the database can take (JSON escapes can
    spell a lone surrogate, which no encoding can carry) within the longest key a list issues."""
    if not isinstance(value, str) or len(value) > MAX_KEY_LENGTH:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def page_of(fetched: Sequence[T], page: PageRequest, marker: str, key: Callable[[T], str]) -> Page[T]:
    """The page among ``fetched`` (up to ``page.limit`` items in key order), with the token that
    continues after its last item's ``key`` when more were fetched than fit."""
    shown = list(fetched[: page.size])
    more = len(fetched) > page.size
    return Page(shown, encode_token(key(shown[-1]), marker) if more and shown else "")


def page_request(requested_size: int, token: str, *filters: object) -> tuple[PageRequest, str]:
    """Validates size and token; returns the page request and the filters' fingerprint."""
    size = page_size(requested_size)
    # Bound to the call's tenant whatever the list passes: a token of one tenant's listing
    # means nothing in another's, even where the filters look alike.
    tenant = tenant_var.get()
    marker = fingerprint(*filters) if tenant is None else fingerprint(tenant.tenant_id, *filters)
    return PageRequest(size=size, after=decode_token(token, marker)), marker
