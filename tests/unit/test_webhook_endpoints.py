"""Where webhooks may point: public addresses only, unless the operator allows a network."""

from __future__ import annotations

import ipaddress

import pytest

from services.webhooks.channel import pinned_url
from services.webhooks.endpoints import EndpointRefused, EndpointUnresolvable, check_endpoint

REFUSED = [
    "https://127.0.0.1/hook",
    "https://127.8.9.10/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    # IPv4 inside IPv6 that a router delivers: NAT64 (well-known and local prefixes), 6to4, and
    # the IPv4-compatible form, to the cloud's metadata address, a private one and loopback.
    "https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
    "https://[64:ff9b:1::a00:1]/hook",
    "https://[2002:a9fe:a9fe::1]/hook",
    "https://[2002:7f00:1::]/hook",
    "https://[::a9fe:a9fe]/hook",
    "https://10.0.0.1/hook",
    "https://172.16.5.4/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/hook",
    "https://[fd12:3456::1]/hook",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://192.0.2.10/hook",
    "https://localhost/hook",
    "http://93.184.215.14/hook",
    "https://user:pass@93.184.215.14/hook",
    "https://[::1/hook",
    "https://93.184.215.14:99999/hook",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_non_public_endpoints_are_refused(url: str) -> None:
    with pytest.raises(EndpointRefused):
        await check_endpoint(url, ())


async def test_a_refusal_does_not_tell_where_a_name_resolves() -> None:
    with pytest.raises(EndpointRefused) as refused:
        await check_endpoint("https://localhost/hook", ())
    assert "127.0.0.1" not in str(refused.value)
    assert "::1" not in str(refused.value)


async def test_public_addresses_pass_and_are_pinned() -> None:
    endpoint = await check_endpoint("https://93.184.215.14:8443/a/b?c=d", ())
    assert endpoint.addresses == (ipaddress.ip_address("93.184.215.14"),)
    assert pinned_url(endpoint) == "https://93.184.215.14:8443/a/b?c=d"
    endpoint = await check_endpoint("https://[2606:4700::1111]/x", ())
    assert pinned_url(endpoint) == "https://[2606:4700::1111]:443/x"


async def test_the_operator_may_allow_a_network() -> None:
    allowed = (ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("127.0.0.0/8"))
    await check_endpoint("https://10.20.3.4/hook", allowed)
    await check_endpoint("https://[::ffff:127.0.0.1]/hook", allowed)
    with pytest.raises(EndpointRefused):
        await check_endpoint("https://10.21.0.1/hook", allowed)


async def test_an_unresolvable_host_is_reported_as_such() -> None:
    with pytest.raises(EndpointUnresolvable):
        await check_endpoint("https://no-such-host.invalid/hook", ())


async def test_an_embedded_ipv4_address_that_is_public_or_allowed_is_permitted() -> None:
    # 64:ff9b::5db8:d70e is 93.184.215.14 behind NAT64: as public as the address it leads to.
    assert (await check_endpoint("https://[64:ff9b::5db8:d70e]/hook", ())).url
    allowed = (ipaddress.ip_network("10.0.0.0/8"),)
    assert (await check_endpoint("https://[64:ff9b::a00:1]/hook", allowed)).url
