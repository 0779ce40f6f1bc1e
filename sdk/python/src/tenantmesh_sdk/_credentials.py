"""How a client gets access tokens: an API key (exchanged) or a user's password (login, then
refresh tokens). Both renew before expiry and on demand after an UNAUTHENTICATED answer."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
from tenantmesh.auth.v1 import auth_service_pb2 as auth_pb
from tenantmesh.auth.v1 import auth_service_pb2_grpc as auth_grpc

from tenantmesh_sdk._errors import MfaRequiredError, UnauthenticatedError

# Renew this long before the token expires (it is valid for minutes, so this is a small share).
RENEW_BEFORE_S = 60.0


@dataclass
class Token:
    access_token: str = field(repr=False)
    expires_at: float  # time.time() seconds
    refresh_token: str = field(default="", repr=False)

    @property
    def tenant_id(self) -> str:
        return str(claims(self.access_token).get("tid", ""))

    def fresh(self, now: float | None = None) -> bool:
        return (now or time.time()) < self.expires_at - RENEW_BEFORE_S


def claims(token: str) -> dict[str, Any]:
    """The token's claims, unverified: only to read its tenant and expiry (the platform verifies)."""
    try:
        payload = token.split(".")[1]
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return decoded


def _token(tokens: auth_pb.TokenSet) -> Token:
    if not tokens.access_token:
        # Never keep an empty token: every call would then fail UNAUTHENTICATED and log in again.
        raise UnauthenticatedError(grpc.StatusCode.UNAUTHENTICATED, "the answer carried no access token")
    expires = (
        tokens.access_token_expire_time.ToNanoseconds() / 1e9
        if tokens.HasField("access_token_expire_time")
        else float(claims(tokens.access_token).get("exp", time.time() + 300))
    )
    return Token(tokens.access_token, expires, tokens.refresh_token)


class Credentials:
    """A source of access tokens. ``fetch``/``afetch`` get a new one (``previous`` is the token
    being replaced, for a refresh); calls go over the client's own channel (public RPCs)."""

    def fetch(self, channel: grpc.Channel, previous: Token | None) -> Token:
        raise NotImplementedError

    async def afetch(self, channel: grpc.aio.Channel, previous: Token | None) -> Token:
        raise NotImplementedError


@dataclass
class ApiKey(Credentials):
    """A service account's API key, exchanged for a short-lived access token."""

    key: str = field(repr=False)

    def fetch(self, channel: grpc.Channel, previous: Token | None) -> Token:
        stub = auth_grpc.AuthServiceStub(channel)
        return _token(stub.ExchangeApiKey(auth_pb.ExchangeApiKeyRequest(api_key=self.key)).tokens)

    async def afetch(self, channel: grpc.aio.Channel, previous: Token | None) -> Token:
        stub = auth_grpc.AuthServiceStub(channel)
        return _token((await stub.ExchangeApiKey(auth_pb.ExchangeApiKeyRequest(api_key=self.key))).tokens)


@dataclass
class Password(Credentials):
    """A user's login in one tenant (its slug or id). Renewal uses the refresh token; when that
    is refused (session ended), the user logs in again. For accounts without a second factor:
    when the login answers with an MFA challenge, ``MfaRequiredError`` is raised (no token is
    kept)."""

    tenant: str
    email: str
    password: str = field(repr=False)

    def _login(self) -> auth_pb.LoginRequest:
        return auth_pb.LoginRequest(tenant=self.tenant, email=self.email, password=self.password)

    @staticmethod
    def _logged_in(response: auth_pb.LoginResponse) -> Token:
        if response.HasField("mfa_challenge"):
            challenge = response.mfa_challenge
            raise MfaRequiredError(
                challenge.challenge_token,
                enrolment_required=challenge.enrolment_required,
                expire_time=challenge.expire_time.ToNanoseconds() / 1e9 if challenge.HasField("expire_time") else None,
            )
        return _token(response.tokens)

    def fetch(self, channel: grpc.Channel, previous: Token | None) -> Token:
        stub = auth_grpc.AuthServiceStub(channel)
        if previous is not None and previous.refresh_token:
            try:
                return _token(stub.Refresh(auth_pb.RefreshRequest(refresh_token=previous.refresh_token)).tokens)
            except grpc.RpcError:
                pass  # the session is gone: log in again
        return self._logged_in(stub.Login(self._login()))

    async def afetch(self, channel: grpc.aio.Channel, previous: Token | None) -> Token:
        stub = auth_grpc.AuthServiceStub(channel)
        if previous is not None and previous.refresh_token:
            try:
                response = await stub.Refresh(auth_pb.RefreshRequest(refresh_token=previous.refresh_token))
                return _token(response.tokens)
            except grpc.RpcError:
                pass
        return self._logged_in(await stub.Login(self._login()))
