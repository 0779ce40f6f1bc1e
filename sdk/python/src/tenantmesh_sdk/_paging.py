"""AIP-158 paging as iterators: every item of every page, fetching pages as they are needed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

from google.protobuf.message import Message

Request = TypeVar("Request", bound=Message)

PAGE_TOKEN = "page_token"  # noqa: S105 - a field name
NEXT_PAGE_TOKEN = "next_page_token"  # noqa: S105 - a field name


def _items_field(response: Message, items: str | None) -> str:
    if items is not None:
        return items
    repeated = [f.name for f in response.DESCRIPTOR.fields if f.is_repeated and f.message_type is not None]
    if len(repeated) != 1:
        raise ValueError(f"{response.DESCRIPTOR.full_name}: name the items field (items=...)")
    return repeated[0]


def _next(request: Request, token: str) -> Request:
    following = type(request)()
    following.CopyFrom(request)
    setattr(following, PAGE_TOKEN, token)
    return following


def paginate(method: Callable[..., Any], request: Request, *, items: str | None = None, **kwargs: Any) -> Iterator[Any]:
    """Every item of a List call: ``for tenant in paginate(stub.ListTenants, ListTenantsRequest())``.
    Keyword arguments (``timeout=``, ``metadata=``) go to each page's call."""
    while True:
        response = method(request, **kwargs)
        yield from getattr(response, _items_field(response, items))
        token = getattr(response, NEXT_PAGE_TOKEN)
        if not token:
            return
        request = _next(request, token)


async def apaginate(
    method: Callable[..., Awaitable[Any]], request: Request, *, items: str | None = None, **kwargs: Any
) -> AsyncIterator[Any]:
    """``async for tenant in apaginate(stub.ListTenants, ListTenantsRequest())``."""
    while True:
        response = await method(request, **kwargs)
        for item in getattr(response, _items_field(response, items)):
            yield item
        token = getattr(response, NEXT_PAGE_TOKEN)
        if not token:
            return
        request = _next(request, token)
