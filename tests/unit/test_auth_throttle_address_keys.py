"""Which client an address is counted for by the login and API-key throttles.

A host on IPv6 holds a whole /64 and can use any address of it per connection: through a real
Envoy (bound to ``::``, a client on addresses of 2001:db8::/64), twelve failed logins from
twelve addresses of the /64 were never locked while the limit was three. An IPv6 client is
counted for its /64; IPv4 (IPv4-mapped IPv6 included) for its address.
"""

from __future__ import annotations

import pytest

from services.auth.throttle import address_key


def _key(address: str) -> str:
    return address_key(address, 3).key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # The edge's view (x-tenantmesh-client-address): addresses of one /64.
        ("2001:db8::10", "2001:db8::ffff:20"),
        ("2001:db8:0:1:aaaa:bbbb:cccc:dddd", "2001:DB8:0:1::1"),
        # A direct gRPC peer, in grpc-core's spellings, with the port of each connection.
        ("ipv6:[2001:db8::10]:50000", "ipv6:[2001:db8::20]:50001"),
        ("ipv6:%5B2001:db8::10%5D:50000", "ipv6:%5B2001:db8::20%5D:50001"),
        ("ipv4:10.0.0.7:50000", "ipv4:10.0.0.7:50001"),
        # IPv4 through a dual-stack listener is the IPv4 address.
        ("::ffff:203.0.113.7", "203.0.113.7"),
    ],
)
def test_addresses_of_one_client_share_a_key(first: str, second: str) -> None:
    assert _key(first) == _key(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("2001:db8:0:1::10", "2001:db8:0:2::10"),
        ("203.0.113.7", "203.0.113.8"),
        ("::ffff:203.0.113.7", "::ffff:203.0.113.8"),
        ("ipv4:10.0.0.7:50000", "ipv4:10.0.0.8:50000"),
        ("ipv6:[2001:db8:0:1::10]:50000", "ipv6:[2001:db8:0:2::10]:50000"),
    ],
)
def test_other_clients_have_keys_of_their_own(first: str, second: str) -> None:
    assert _key(first) != _key(second)


@pytest.mark.parametrize("address", ["", "unix:/tmp/socket", "not an address"])
def test_anything_else_is_counted_as_written(address: str) -> None:
    assert _key(address) == f"address:{address}"
