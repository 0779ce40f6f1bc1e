// A refused call as a person reads it, in their language. The server's message is English and
// written for developers; every error carries a google.rpc ErrorInfo reason (the SDK's
// TenantmeshError.reason), and that reason picks the console's own sentence. A reason without
// words here falls back to one for its gRPC code, then to a generic sentence: never the server's
// text alone. That text stays available (errorDetails) for whoever helps the user.

import { TenantmeshError, type Code } from "@tenantmesh/sdk";
import type { ErrorMessageKey } from "./error-messages";
import { format, type Locale } from "./messages";

/** The sentence of a reason, and the one to use instead when the server says how long to wait
 * (google.rpc RetryInfo; its text holds {wait}). */
interface ReasonWords {
  key: ErrorMessageKey;
  waitKey?: ErrorMessageKey;
}

const SESSION_ENDED: ReasonWords = { key: "error.sessionEnded" };
const UNAVAILABLE: ReasonWords = { key: "error.unavailable" };
const RATE_LIMITED: ReasonWords = { key: "error.rateLimited", waitKey: "error.rateLimitedWait" };
const FIELDS_INVALID: ReasonWords = { key: "error.fieldsInvalid" };
const LINK_INVALID: ReasonWords = { key: "error.linkInvalid" };
const TENANT_NOT_READY: ReasonWords = { key: "error.tenantNotReady" };
const LIMIT_REACHED: ReasonWords = { key: "error.limitReached" };
const PERMISSION_ESCALATION: ReasonWords = { key: "error.permissionEscalation" };
const FILE_TOO_LARGE: ReasonWords = { key: "error.fileTooLarge" };

/** ErrorInfo reasons (services/*\/reasons.py, services/runtime/errors.py CommonReason, the
 * edge's EdgeReason) the console's flows meet, and their words. */
export const REASON_WORDS: Readonly<Record<string, ReasonWords>> = {
  // Sign-in and the session.
  INVALID_CREDENTIALS: { key: "error.invalidCredentials" },
  LOGIN_LOCKED: { key: "error.locked", waitKey: "error.lockedWait" },
  MFA_CODE_INVALID: { key: "error.mfaCodeInvalid" },
  MFA_CHALLENGE_INVALID: { key: "error.mfaChallengeInvalid" },
  MFA_ENROLMENT_REQUIRED: { key: "error.mfaEnrolmentRequired" },
  TOKEN_EXPIRED: { key: "error.sessionExpired" },
  TOKEN_REVOKED: SESSION_ENDED,
  TOKEN_INVALID: SESSION_ENDED,
  CREDENTIALS_MISSING: SESSION_ENDED,
  REFRESH_TOKEN_INVALID: SESSION_ENDED,
  REFRESH_TOKEN_REUSED: SESSION_ENDED,
  NOT_A_MEMBER: { key: "error.notAMember" },
  TENANT_SUSPENDED: { key: "error.tenantSuspended" },
  TENANT_NOT_READY: TENANT_NOT_READY,
  TENANT_PROVISIONING: TENANT_NOT_READY,
  TENANT_MOVING: TENANT_NOT_READY,
  PASSWORD_TOO_WEAK: { key: "error.passwordTooWeak" },
  RESET_TOKEN_INVALID: LINK_INVALID,
  EMAIL_TOKEN_INVALID: LINK_INVALID,
  INVITATION_INVALID: LINK_INVALID,
  // Forms and submissions.
  FIELD_INVALID: FIELDS_INVALID,
  REQUEST_MALFORMED: FIELDS_INVALID,
  MALFORMED_REQUEST: FIELDS_INVALID,
  ANSWERS_INVALID: { key: "error.answersInvalid" },
  FORM_ARCHIVED: { key: "error.formArchived" },
  FORM_NOT_PUBLISHED: { key: "error.formNotPublished" },
  FORM_KEY_TAKEN: { key: "error.formKeyTaken" },
  DEFINITION_INVALID: { key: "error.definitionInvalid" },
  SUBMISSION_NOT_EDITABLE: { key: "error.submissionNotEditable" },
  ETAG_MISMATCH: { key: "error.changed" },
  REQUEST_ID_REUSED: { key: "error.requestIdReused" },
  // Files.
  FILE_TOO_LARGE: FILE_TOO_LARGE,
  REQUEST_TOO_LARGE: FILE_TOO_LARGE,
  FILE_TYPE_NOT_ALLOWED: { key: "error.fileTypeNotAllowed" },
  FILE_EXPIRED: { key: "error.fileExpired" },
  STORAGE_FULL: { key: "error.storageFull" },
  // Administration.
  PERMISSION_DENIED: { key: "error.permissionDenied" },
  PERMISSION_ESCALATION: PERMISSION_ESCALATION,
  PERMISSION_NOT_GRANTABLE: PERMISSION_ESCALATION,
  MEMBERSHIP_EXISTS: { key: "error.membershipExists" },
  USER_EMAIL_TAKEN: { key: "error.emailTaken" },
  INVITATION_EXISTS: { key: "error.invitationExists" },
  INVITATION_RESENT_RECENTLY: { key: "error.invitationResent", waitKey: "error.invitationResentWait" },
  MENU_LIMIT_REACHED: LIMIT_REACHED,
  WEBHOOK_LIMIT_REACHED: LIMIT_REACHED,
  ROLE_BUILT_IN: { key: "error.roleBuiltIn" },
  ROLE_IN_USE: { key: "error.roleInUse" },
  SIGNING_KEY_ROTATION_TOO_SOON: { key: "error.keyRotationTooSoon", waitKey: "error.keyRotationTooSoonWait" },
  // Whatever the flow.
  UNAVAILABLE: UNAVAILABLE,
  DEPENDENCY_UNAVAILABLE: UNAVAILABLE,
  DATABASE_UNAVAILABLE: UNAVAILABLE,
  TRANSACTION_CONFLICT: UNAVAILABLE,
  UPSTREAM_UNAVAILABLE: UNAVAILABLE,
  UPSTREAM_TIMEOUT: UNAVAILABLE,
  RATE_LIMITED: RATE_LIMITED,
  RESOURCE_EXHAUSTED: RATE_LIMITED,
  SWITCH_RATE_LIMITED: RATE_LIMITED,
  RESET_RATE_LIMITED: RATE_LIMITED,
  NOT_FOUND: { key: "error.notFound" },
};

/** A reason without words of its own: the sentence for its gRPC code (a new *_NOT_FOUND reads
 * as not found, a new ABORTED one as changed meanwhile). */
const CODE_WORDS: Partial<Record<Code, ReasonWords>> = {
  INVALID_ARGUMENT: FIELDS_INVALID,
  NOT_FOUND: { key: "error.notFound" },
  ALREADY_EXISTS: { key: "error.alreadyExists" },
  PERMISSION_DENIED: { key: "error.permissionDenied" },
  UNAUTHENTICATED: SESSION_ENDED,
  RESOURCE_EXHAUSTED: RATE_LIMITED,
  ABORTED: { key: "error.changed" },
  UNAVAILABLE: UNAVAILABLE,
  DEADLINE_EXCEEDED: UNAVAILABLE,
};

const GENERIC: ReasonWords = { key: "error.generic" };

function wordsFor(error: unknown): ReasonWords {
  if (!(error instanceof TenantmeshError)) {
    return GENERIC;
  }
  return REASON_WORDS[error.reason] ?? CODE_WORDS[error.code] ?? GENERIC;
}

/** A wait in whole seconds, minutes or hours (rounded up) as ``locale`` writes it: "5 menit". */
export function formatWait(locale: Locale, seconds: number): string {
  const [value, unit] =
    seconds < 60 ? [Math.max(1, Math.ceil(seconds)), "second"] : seconds < 3600 ? [Math.ceil(seconds / 60), "minute"] : [Math.ceil(seconds / 3600), "hour"];
  return new Intl.NumberFormat(locale, { style: "unit", unit, unitDisplay: "long" }).format(value);
}

/** The console's sentence for a failed call, in ``locale``. */
export function errorText(locale: Locale, error: unknown): string {
  const words = wordsFor(error);
  const wait = error instanceof TenantmeshError ? error.retryDelay : undefined;
  if (words.waitKey && wait !== undefined && wait > 0) {
    return format(locale, words.waitKey, { wait: formatWait(locale, wait) });
  }
  return format(locale, words.key);
}

/** What the server said, for support: code, reason, its (English) message and the request id. */
export function errorDetails(error: unknown): string {
  if (!(error instanceof TenantmeshError)) {
    return String(error);
  }
  return error.requestId ? `${error.message} (request ${error.requestId})` : error.message;
}
