"""AuthService and SigningKeyService handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf import timestamp_pb2
from tenantmesh.auth.v1 import admin_service_pb2, admin_service_pb2_grpc, user_pb2
from tenantmesh.auth.v1 import auth_service_pb2 as pb
from tenantmesh.auth.v1 import auth_service_pb2_grpc as pb_grpc

from services.auth.discovery import openid_configuration
from services.auth.invitations import Invitations
from services.auth.keys import SigningKeyStore
from services.auth.mfa import Enrolment, SecondFactor
from services.auth.password_reset import PasswordResets
from services.auth.profiles import UserProfiles
from services.auth.reasons import AuthReason
from services.auth.service_tokens import ServiceTokens
from services.auth.sessions import Challenge, SessionManager, Tokens
from services.auth.verification import EmailVerification
from services.runtime.auth.verifier import JwksCache
from services.runtime.context import Principal, current_principal
from services.runtime.errors import NotFound
from services.runtime.proto_values import timestamp

Context = grpc.aio.ServicerContext[Any, Any]


def token_set(tokens: Tokens) -> pb.TokenSet:
    expires = timestamp_pb2.Timestamp()
    expires.FromDatetime(datetime.fromtimestamp(tokens.access.claims.expires_at, UTC))
    return pb.TokenSet(
        access_token=tokens.access.token,
        access_token_expire_time=expires,
        refresh_token=tokens.refresh_token,
        token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
        tenant_id=tokens.access.claims.tenant_id,
    )


def totp_secret(enrolment: Enrolment) -> pb.TotpSecret:
    return pb.TotpSecret(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


@dataclass(frozen=True)
class AccountFlows:
    """What the token holders' RPCs (invitations, verification, reset) are served by."""

    invitations: Invitations
    verification: EmailVerification
    resets: PasswordResets


class AuthServicer(pb_grpc.AuthServiceServicer):
    def __init__(
        self,
        sessions: SessionManager,
        keys: SigningKeyStore,
        profiles: UserProfiles,
        flows: AccountFlows,
        service_tokens: ServiceTokens,
        issuer: str,
    ) -> None:
        self._service_tokens = service_tokens
        self._issuer = issuer
        self._sessions = sessions
        self._keys = keys
        self._profiles = profiles
        self._flows = flows

    async def GetInvitation(self, request: pb.GetInvitationRequest, context: Context) -> pb.GetInvitationResponse:
        """Public. Reasons: INVITATION_INVALID."""
        view = await self._flows.invitations.inspect(request.token)
        return pb.GetInvitationResponse(tenant=view.tenant, roles=view.roles, expire_time=timestamp(view.expire_time))

    async def AcceptInvitation(
        self, request: pb.AcceptInvitationRequest, context: Context
    ) -> pb.AcceptInvitationResponse:
        """Public. Reasons: INVITATION_INVALID, USER_EMAIL_TAKEN, PASSWORD_TOO_WEAK."""
        user_id, tenant_id = await self._flows.invitations.accept_new(
            request.token, password=request.password, display_name=request.display_name
        )
        return pb.AcceptInvitationResponse(user_id=user_id, tenant_id=tenant_id)

    async def AcceptInvitationAsMe(
        self, request: pb.AcceptInvitationAsMeRequest, context: Context
    ) -> pb.AcceptInvitationAsMeResponse:
        """Permission auth.self. Reasons: INVITATION_INVALID, INVITATION_EMAIL_MISMATCH,
        PLATFORM_IDENTITY_NOT_JOINABLE, PLATFORM_TENANT_NOT_JOINABLE, MEMBERSHIP_EXISTS, USER_EMAIL_TAKEN."""
        tenant_id = await self._flows.invitations.accept_as(request.token, current_principal())
        return pb.AcceptInvitationAsMeResponse(tenant_id=tenant_id)

    async def VerifyEmail(self, request: pb.VerifyEmailRequest, context: Context) -> pb.VerifyEmailResponse:
        """Public. Reasons: EMAIL_TOKEN_INVALID, USER_EMAIL_TAKEN."""
        await self._flows.verification.verify(request.token)
        return pb.VerifyEmailResponse()

    async def RequestPasswordReset(
        self, request: pb.RequestPasswordResetRequest, context: Context
    ) -> pb.RequestPasswordResetResponse:
        """Public. The same answer whether or not the member exists. Reasons: RESET_RATE_LIMITED."""
        await self._flows.resets.request(request.tenant, request.email, request.locale or "en")
        return pb.RequestPasswordResetResponse()

    async def CompletePasswordReset(
        self, request: pb.CompletePasswordResetRequest, context: Context
    ) -> pb.CompletePasswordResetResponse:
        """Public. Reasons: RESET_TOKEN_INVALID, PASSWORD_TOO_WEAK. Ends every session of the user."""
        await self._flows.resets.complete(request.token, request.new_password)
        return pb.CompletePasswordResetResponse()

    async def Login(self, request: pb.LoginRequest, context: Context) -> pb.LoginResponse:
        """Public. Tokens, or an MFA challenge. Reasons: INVALID_CREDENTIALS, LOGIN_LOCKED."""
        result = await self._sessions.login(request.tenant, request.email, request.password)
        if isinstance(result, Challenge):
            return pb.LoginResponse(
                mfa_challenge=pb.MfaChallenge(
                    challenge_token=result.token,
                    expire_time=timestamp(result.expire_time),
                    enrolment_required=result.enrolment_required,
                )
            )
        return pb.LoginResponse(tokens=token_set(result))

    async def BeginChallengeEnrolment(
        self, request: pb.BeginChallengeEnrolmentRequest, context: Context
    ) -> pb.BeginChallengeEnrolmentResponse:
        """Public. Reasons: MFA_CHALLENGE_INVALID, MFA_ALREADY_ENROLLED."""
        enrolment = await self._sessions.begin_challenge_enrolment(request.challenge_token)
        return pb.BeginChallengeEnrolmentResponse(totp=totp_secret(enrolment))

    async def CompleteMfaChallenge(
        self, request: pb.CompleteMfaChallengeRequest, context: Context
    ) -> pb.CompleteMfaChallengeResponse:
        """Public. Reasons: MFA_CHALLENGE_INVALID, MFA_CODE_INVALID, LOGIN_LOCKED."""
        completed = await self._sessions.complete_challenge(request.challenge_token, request.code)
        return pb.CompleteMfaChallengeResponse(
            tokens=token_set(completed.tokens), recovery_codes=completed.recovery_codes
        )

    async def Refresh(self, request: pb.RefreshRequest, context: Context) -> pb.RefreshResponse:
        """Public. Reasons: REFRESH_TOKEN_INVALID, REFRESH_TOKEN_REUSED, TENANT_SUSPENDED, TENANT_NOT_READY."""
        return pb.RefreshResponse(tokens=token_set(await self._sessions.refresh(request.refresh_token)))

    async def Logout(self, request: pb.LogoutRequest, context: Context) -> pb.LogoutResponse:
        """Permission auth.self."""
        await self._sessions.logout(current_principal())
        return pb.LogoutResponse()

    async def SwitchTenant(self, request: pb.SwitchTenantRequest, context: Context) -> pb.SwitchTenantResponse:
        """Permission auth.self. Reasons: NOT_A_MEMBER, MFA_ENROLMENT_REQUIRED, SWITCH_RATE_LIMITED."""
        tokens = await self._sessions.switch_tenant(current_principal(), request.tenant)
        return pb.SwitchTenantResponse(tokens=token_set(tokens))

    async def GetMe(self, request: pb.GetMeRequest, context: Context) -> pb.GetMeResponse:
        """Permission auth.self."""
        principal = current_principal()
        kind, _, user_id = principal.subject.partition(":")
        user = await self._profiles.get(user_id) if kind == "user" else None
        response = pb.GetMeResponse(
            tenant_id=principal.tenant_id or "",
            roles=list(principal.roles),
            permissions=sorted(principal.permissions),
            session_id=principal.session_id or "",
            subject=principal.subject,
        )
        if user is not None:
            response.user.CopyFrom(
                user_pb2.User(
                    user_id=user.user_id, email=user.email, display_name=user.display_name, disabled=user.disabled
                )
            )
        return response

    async def ChangePassword(self, request: pb.ChangePasswordRequest, context: Context) -> pb.ChangePasswordResponse:
        """Permission auth.self. Reasons: INVALID_CREDENTIALS, PASSWORD_TOO_WEAK, LOGIN_LOCKED."""
        await self._sessions.change_password(current_principal(), request.current_password, request.new_password)
        return pb.ChangePasswordResponse()

    async def ExchangeApiKey(self, request: pb.ExchangeApiKeyRequest, context: Context) -> pb.ExchangeApiKeyResponse:
        """Public. Reasons: API_KEY_INVALID, TENANT_SUSPENDED, TENANT_NOT_READY, LOGIN_LOCKED."""
        return pb.ExchangeApiKeyResponse(tokens=token_set(await self._sessions.exchange_api_key(request.api_key)))

    async def GetJwks(self, request: pb.GetJwksRequest, context: Context) -> pb.GetJwksResponse:
        """Public."""
        return pb.GetJwksResponse(keys=[pb.Jwk(**key) for key in await self._keys.jwks()])

    async def GetOpenIdConfiguration(
        self, request: pb.GetOpenIdConfigurationRequest, context: Context
    ) -> pb.GetOpenIdConfigurationResponse:
        """Public."""
        return openid_configuration(self._issuer)

    async def IssueServiceToken(
        self, request: pb.IssueServiceTokenRequest, context: Context
    ) -> pb.IssueServiceTokenResponse:
        """Permission auth.self. Reasons: SERVICE_NOT_FOUND, SERVICE_NOT_EXTERNAL, DEPENDENCY_UNAVAILABLE."""
        issued, audience = await self._service_tokens.issue(request.service)
        return pb.IssueServiceTokenResponse(
            access_token=issued.token,
            audience=audience,
            expire_time=timestamp_pb2.Timestamp(seconds=issued.claims.expires_at),
        )


def _own_user(principal: Principal) -> tuple[str, str]:
    """(user id, tenant id) of a user's token; service accounts have no second factor."""
    kind, _, user_id = principal.subject.partition(":")
    if kind != "user":
        raise NotFound("only users have a second factor", reason=AuthReason.USER_NOT_FOUND)
    return user_id, principal.tenant_id or ""


class MfaServicer(pb_grpc.MfaServiceServicer):
    """The caller's own second factor."""

    def __init__(self, second_factor: SecondFactor, sessions: SessionManager) -> None:
        self._mfa = second_factor
        self._sessions = sessions

    async def GetMfaStatus(self, request: pb.GetMfaStatusRequest, context: Context) -> pb.GetMfaStatusResponse:
        """Permission auth.self. Reasons: USER_NOT_FOUND (service accounts)."""
        user_id, _ = _own_user(current_principal())
        status = await self._mfa.status(user_id)
        return pb.GetMfaStatusResponse(totp_enabled=status.totp_enabled, recovery_codes_left=status.recovery_codes_left)

    async def EnrolTotp(self, request: pb.EnrolTotpRequest, context: Context) -> pb.EnrolTotpResponse:
        """Permission auth.self. Reasons: MFA_ALREADY_ENROLLED, USER_NOT_FOUND."""
        user_id, tenant_id = _own_user(current_principal())
        return pb.EnrolTotpResponse(totp=totp_secret(await self._mfa.enrol(user_id, tenant_id)))

    async def ConfirmTotp(self, request: pb.ConfirmTotpRequest, context: Context) -> pb.ConfirmTotpResponse:
        """Permission auth.self. Reasons: MFA_NOT_ENROLLING, MFA_CODE_INVALID, USER_NOT_FOUND."""
        user_id, tenant_id = _own_user(current_principal())
        return pb.ConfirmTotpResponse(recovery_codes=await self._mfa.confirm(user_id, tenant_id, request.code))

    async def DisableTotp(self, request: pb.DisableTotpRequest, context: Context) -> pb.DisableTotpResponse:
        """Permission auth.self. Reasons: MFA_NOT_ENROLLED, MFA_CODE_INVALID, USER_NOT_FOUND, LOGIN_LOCKED."""
        principal = current_principal()
        user_id, tenant_id = _own_user(principal)
        await self._sessions.guard_factor_code(principal, lambda: self._mfa.disable(user_id, tenant_id, request.code))
        return pb.DisableTotpResponse()

    async def RegenerateRecoveryCodes(
        self, request: pb.RegenerateRecoveryCodesRequest, context: Context
    ) -> pb.RegenerateRecoveryCodesResponse:
        """Permission auth.self. Reasons: MFA_NOT_ENROLLED, MFA_CODE_INVALID, USER_NOT_FOUND, LOGIN_LOCKED."""
        principal = current_principal()
        user_id, tenant_id = _own_user(principal)
        codes = await self._sessions.guard_factor_code(
            principal, lambda: self._mfa.regenerate(user_id, tenant_id, request.code)
        )
        return pb.RegenerateRecoveryCodesResponse(recovery_codes=codes)


class SigningKeyServicer(admin_service_pb2_grpc.SigningKeyServiceServicer):
    def __init__(self, keys: SigningKeyStore, local_jwks: JwksCache) -> None:
        self._keys = keys
        self._local_jwks = local_jwks

    async def RotateSigningKey(
        self, request: admin_service_pb2.RotateSigningKeyRequest, context: Context
    ) -> admin_service_pb2.RotateSigningKeyResponse:
        """Permission auth.signing_keys.rotate (platform). Reasons: SIGNING_KEY_ROTATION_TOO_SOON."""
        kid = await self._keys.rotate()
        self._local_jwks.forget()
        published = sorted(await self._keys.published_keys())
        return admin_service_pb2.RotateSigningKeyResponse(kid=kid, published_kids=published)
