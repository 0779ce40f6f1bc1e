"""Clients: a channel to the edge with the SDK's interceptors, for the generated stubs."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import grpc

from tenantmesh_sdk._async import AsyncCallCore, AsyncSdkChannel
from tenantmesh_sdk._calls import CallPolicy, TokenState
from tenantmesh_sdk._credentials import ApiKey, Credentials, Password
from tenantmesh_sdk._sync import CallCore, SdkChannel

DEFAULT_PORT = 443


def parse_target(url: str) -> tuple[str, bool]:
    """``https://host:port`` / ``host:port`` -> (host:port, TLS); ``http://host:port`` -> plaintext."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"not a Tenantmesh URL: {url!r} (use https://host:port)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{parts.port or (DEFAULT_PORT if parts.scheme == 'https' else 80)}", parts.scheme == "https"


def _root_certificates(ca_file: str | Path | None, root_certificates: bytes | None) -> bytes | None:
    if root_certificates is not None:
        return root_certificates
    return Path(ca_file).read_bytes() if ca_file is not None else None


class _Base:
    def __init__(
        self,
        url: str,
        *,
        credentials: Credentials | None = None,
        tenant_id: str | None = None,
        ca_file: str | Path | None = None,
        root_certificates: bytes | None = None,
        timeout: float | None = 30.0,
        max_attempts: int = 4,
        options: tuple[tuple[str, Any], ...] = (),
        _tokens: TokenState | None = None,
    ) -> None:
        self.url = url
        self.target, self.tls = parse_target(url)
        self.policy = CallPolicy(timeout=timeout, max_attempts=max_attempts)
        self._tokens = _tokens or TokenState(credentials)
        self._explicit_tenant = tenant_id
        self._roots = _root_certificates(ca_file, root_certificates)
        self._options = options

    @property
    def tenant_id(self) -> str | None:
        """The tenant calls are made in unless one names another: the one given, else the
        token's (known after the first call)."""
        if self._explicit_tenant:
            return self._explicit_tenant
        token = self._tokens.token
        return token.tenant_id if token is not None else None

    def _tenant(self) -> str | None:
        return self._explicit_tenant

    def _siblings(self, tenant_id: str) -> dict[str, Any]:
        return {
            "tenant_id": tenant_id,
            "root_certificates": self._roots,
            "timeout": self.policy.timeout,
            "max_attempts": self.policy.max_attempts,
            "options": self._options,
            "_tokens": self._tokens,
        }


class Client(_Base):
    """Synchronous client. ``SomeServiceStub(client.channel)`` gives a typed stub."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        if self.tls:
            raw = grpc.secure_channel(self.target, grpc.ssl_channel_credentials(self._roots), self._options)
        else:
            raw = grpc.insecure_channel(self.target, self._options)
        self._raw = raw
        self._core = CallCore(self.policy, self._tokens, self._tenant)
        self.channel: grpc.Channel = SdkChannel(raw, self._core)

    @classmethod
    def from_api_key(cls, url: str, api_key: str, **kwargs: Any) -> Self:
        return cls(url, credentials=ApiKey(api_key), **kwargs)

    @classmethod
    def from_password(cls, url: str, tenant: str, email: str, password: str, **kwargs: Any) -> Self:
        return cls(url, credentials=Password(tenant, email, password), **kwargs)

    def authenticate(self) -> None:
        """Gets a token now (otherwise the first call does); raises the typed error if refused."""
        self._core.token()

    def for_tenant(self, tenant_id: str) -> Client:
        """A client making its calls in another tenant (a platform administrator's, say), sharing
        this one's credentials and token."""
        return Client(self.url, **self._siblings(tenant_id))

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_Base):
    """asyncio client. ``SomeServiceStub(client.channel)`` gives a typed async stub."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        if self.tls:
            credentials = grpc.ssl_channel_credentials(self._roots)
            raw = grpc.aio.secure_channel(self.target, credentials, self._options)
        else:
            raw = grpc.aio.insecure_channel(self.target, self._options)
        self._raw = raw
        self._core = AsyncCallCore(self.policy, self._tokens, self._tenant)
        self.channel: grpc.aio.Channel = AsyncSdkChannel(raw, self._core)

    @classmethod
    def from_api_key(cls, url: str, api_key: str, **kwargs: Any) -> Self:
        return cls(url, credentials=ApiKey(api_key), **kwargs)

    @classmethod
    def from_password(cls, url: str, tenant: str, email: str, password: str, **kwargs: Any) -> Self:
        return cls(url, credentials=Password(tenant, email, password), **kwargs)

    async def authenticate(self) -> None:
        await self._core.token()

    def for_tenant(self, tenant_id: str) -> AsyncClient:
        return AsyncClient(self.url, **self._siblings(tenant_id))

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
