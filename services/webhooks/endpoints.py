"""Where webhooks may point: no SSRF into the platform's own network.

An endpoint's host must resolve to public addresses only, unless the operator
allows a network (TENANTMESH_WEBHOOKS_ALLOWED_NETWORKS). The check runs when a
webhook is written (a clear error for the tenant) and again before every
attempt, whose connection then goes to the very address that was checked: a
host that resolved to a public address at creation and to 127.0.0.1 later
(DNS rebinding) is refused at send time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import urllib.parse
from dataclasses import dataclass

from services.webhooks.settings import Network

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# A resolver that does not answer must not hold a request (or a delivery attempt) for long.
_RESOLVE_TIMEOUT_SECONDS = 5.0


class EndpointRefused(Exception):
    """The URL may not be called: its host resolves to an address that is not allowed."""


class EndpointUnresolvable(Exception):
    """The URL's host does not resolve (now)."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    host: str
    port: int
    # Checked addresses the host resolved to; attempts connect to the first.
    addresses: tuple[IPAddress, ...]


# IPv6 ranges that carry an IPv4 address a router may deliver to (NAT64's well-known and local
# prefixes, the long-deprecated IPv4-compatible form); Python calls all of them global.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _reached(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one leads to where it embeds one (::ffff:127.0.0.1 is loopback,
    and so are 64:ff9b::7f00:1 behind NAT64 and 2002:7f00:1:: through 6to4), else itself."""
    if not isinstance(address, ipaddress.IPv6Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64) or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _permitted(address: IPAddress, allowed: tuple[Network, ...]) -> bool:
    if any(address in network for network in allowed):
        return True
    address = _reached(address)
    if any(address in network for network in allowed):
        return True
    # is_global excludes loopback, private, link-local, shared (100.64/10), reserved and
    # documentation ranges; multicast is global yet no place for an HTTP POST.
    return address.is_global and not address.is_multicast


async def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(_RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise EndpointUnresolvable(f"{host} did not resolve within {_RESOLVE_TIMEOUT_SECONDS:g} s") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise EndpointUnresolvable(f"{host} does not resolve: {exc}") from None
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise EndpointUnresolvable(f"{host} has no address")
    return tuple(found)


async def check_endpoint(url: str, allowed: tuple[Network, ...]) -> Endpoint:
    """Resolves the URL's host and checks every address (one forbidden address refuses it all:
    a client would pick any of them)."""
    try:
        parts = urllib.parse.urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        raise EndpointRefused("the URL is not valid") from None
    if parts.scheme != "https" or not hostname:
        raise EndpointRefused("the URL must be https:// with a host")
    if parts.username or parts.password:
        raise EndpointRefused("the URL must not carry credentials")
    try:
        port = parts.port or 443
    except ValueError:
        raise EndpointRefused("the URL's port is not valid") from None
    addresses = await _resolve(hostname, port)
    if not all(_permitted(address, allowed) for address in addresses):
        # Not which address: the answer must not tell a tenant how the platform's own names resolve.
        raise EndpointRefused(f"{hostname} resolves to an address that is not public")
    return Endpoint(url=url, host=hostname, port=port, addresses=addresses)
