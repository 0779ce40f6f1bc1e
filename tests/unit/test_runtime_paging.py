from __future__ import annotations

import base64
import json

import pytest

from services.runtime.context import TenantContext, TenantState, tenant_var
from services.runtime.db import TenantDatabase
from services.runtime.errors import InvalidArgument
from services.runtime.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_KEY_LENGTH,
    MAX_PAGE_SIZE,
    decode_token,
    encode_token,
    fingerprint,
    page_request,
    page_size,
)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [(0, DEFAULT_PAGE_SIZE), (1, 1), (3, 3), (MAX_PAGE_SIZE, MAX_PAGE_SIZE), (MAX_PAGE_SIZE + 1, MAX_PAGE_SIZE)],
)
def test_page_size_rules(requested: int, expected: int) -> None:
    assert page_size(requested) == expected


def test_defaults_follow_aip_158() -> None:
    assert DEFAULT_PAGE_SIZE == 50
    assert MAX_PAGE_SIZE == 500
    assert page_size(2**31 - 1) == 500


@pytest.mark.parametrize("requested", [-1, -500])
def test_negative_page_size_is_invalid(requested: int) -> None:
    with pytest.raises(InvalidArgument) as caught:
        page_size(requested)
    assert caught.value.reason == "FIELD_INVALID"
    assert [v.field for v in caught.value.violations] == ["page_size"]


def test_token_round_trip() -> None:
    marker = fingerprint(["ACTIVE"], [("env", "prod")])
    token = encode_token("0190a1b2-0000-7000-8000-000000000001", marker)
    assert decode_token(token, marker) == "0190a1b2-0000-7000-8000-000000000001"


def test_empty_token_means_first_page() -> None:
    request, marker = page_request(0, "", ["ACTIVE"])
    assert request.after is None
    assert request.size == DEFAULT_PAGE_SIZE
    assert marker == fingerprint(["ACTIVE"])


def test_page_request_continues_after_the_token_key() -> None:
    marker = fingerprint(["ACTIVE"])
    request, _ = page_request(3, encode_token("k-1", marker), ["ACTIVE"])
    assert request == type(request)(size=3, after="k-1")


def test_fingerprint_depends_on_filters() -> None:
    assert fingerprint(["ACTIVE"], []) == fingerprint(["ACTIVE"], [])
    assert fingerprint(["ACTIVE"], []) != fingerprint(["SUSPENDED"], [])
    assert fingerprint(["ACTIVE"], []) != fingerprint(["ACTIVE"], [("env", "prod")])


def _raw_token(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


MARKER = fingerprint(["ACTIVE"])


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!!",
        "not base64 at all \u00e9",
        base64.urlsafe_b64encode(b"\xff\xfe\x00binary").decode(),
        _raw_token(["a", "list"]),
        _raw_token({"v": 1, "k": "x"}),  # no fingerprint
        _raw_token({"v": 2, "k": "x", "f": MARKER}),  # unknown version
        _raw_token({"v": 1, "k": 42, "f": MARKER}),  # key of the wrong type
        _raw_token({"v": 1, "k": "x", "f": "0000000000000000"}),  # forged fingerprint
        encode_token("x", MARKER)[:-3],  # truncated
        _raw_token({"v": 1, "k": "\ud800", "f": MARKER}),  # a lone surrogate: no text a database takes
        _raw_token({"v": 1, "k": "a\udfffb", "f": MARKER}),
        _raw_token({"v": 1, "k": "k" * (MAX_KEY_LENGTH + 1), "f": MARKER}),  # longer than any key listed
    ],
)
def test_forged_or_garbage_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        decode_token(token, MARKER)
    assert caught.value.reason == "PAGE_TOKEN_INVALID"
    assert [v.field for v in caught.value.violations] == ["page_token"]


def test_the_longest_key_a_list_issues_round_trips() -> None:
    key = "\u00e9" * MAX_KEY_LENGTH
    assert decode_token(encode_token(key, MARKER), MARKER) == key


def test_token_reused_with_other_filters_is_refused() -> None:
    token = encode_token("k-1", fingerprint(["ACTIVE"], []))
    with pytest.raises(InvalidArgument) as caught:
        page_request(10, token, ["ACTIVE"], [("env", "prod")])
    assert caught.value.reason == "PAGE_TOKEN_INVALID"


def test_a_token_is_bound_to_the_calls_tenant() -> None:
    def in_tenant(tenant_id: str) -> TenantContext:
        return TenantContext(
            tenant_id, tenant_id, TenantState.ACTIVE, TenantDatabase("default", f"tm_tenant_{tenant_id}")
        )

    reset = tenant_var.set(in_tenant("a"))
    try:
        _, marker = page_request(3, "", "enabled-services")
        token = encode_token("k-1", marker)
        assert page_request(3, token, "enabled-services")[0].after == "k-1"
    finally:
        tenant_var.reset(reset)
    reset = tenant_var.set(in_tenant("b"))
    try:
        with pytest.raises(InvalidArgument):
            page_request(3, token, "enabled-services")
    finally:
        tenant_var.reset(reset)
