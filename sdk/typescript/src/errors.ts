// Typed errors: the google.rpc.Status every non-2xx answer of the edge carries, unpacked.

import type { components } from "./generated/schema.js";

type Status = components["schemas"]["google.rpc.Status"];

const ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo";
const BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";
const RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo";

/** gRPC status code names by number (google.rpc.Code). */
export const CODES = [
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
  "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
] as const;
export type Code = (typeof CODES)[number];

export interface FieldViolation {
  field: string;
  description: string;
  reason: string;
}

/** A failed call. Branch on `reason` (stable, UPPER_SNAKE) or `code`; `message` is for people. */
export class TenantmeshError extends Error {
  readonly status: number;
  readonly code: Code;
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Record<string, string>;
  readonly fieldViolations: FieldViolation[];
  readonly requestId: string;
  /** Seconds the server asks to wait before retrying, when it says. */
  readonly retryDelay: number | undefined;

  constructor(init: {
    status: number;
    code: Code;
    message: string;
    reason?: string;
    domain?: string;
    metadata?: Record<string, string>;
    fieldViolations?: FieldViolation[];
    requestId?: string;
    retryDelay?: number | undefined;
  }) {
    super(`${init.code}${init.reason ? ` ${init.reason}` : ""}: ${init.message}`);
    this.name = "TenantmeshError";
    this.status = init.status;
    this.code = init.code;
    this.reason = init.reason ?? "";
    this.domain = init.domain ?? "";
    this.metadata = init.metadata ?? {};
    this.fieldViolations = init.fieldViolations ?? [];
    this.requestId = init.requestId ?? "";
    this.retryDelay = init.retryDelay;
  }
}

/** A password login that needs a second factor: Login answered with an MFA challenge instead of
 * tokens, and the client keeps no token. Complete it with AuthService_CompleteMfaChallenge
 * (after AuthService_BeginChallengeEnrolment when `enrolmentRequired`), or use credentials
 * without a second factor (service accounts: API keys). */
export class MfaRequiredError extends TenantmeshError {
  readonly #challengeToken: string;
  readonly enrolmentRequired: boolean;
  /** When the challenge expires (RFC 3339), if the server said. */
  readonly expireTime: string | undefined;

  constructor(challenge: { challengeToken?: string; enrolmentRequired?: boolean; expireTime?: string }) {
    const enrolmentRequired = challenge.enrolmentRequired === true;
    super({
      status: 401,
      code: "UNAUTHENTICATED",
      reason: "MFA_REQUIRED",
      domain: "tenantmesh.dev",
      message: enrolmentRequired ? "the login needs a second factor (enrolment first)" : "the login needs a second factor",
    });
    this.name = "MfaRequiredError";
    this.#challengeToken = challenge.challengeToken ?? "";
    this.enrolmentRequired = enrolmentRequired;
    this.expireTime = challenge.expireTime;
  }

  /** The challenge for CompleteMfaChallenge (a getter: not printed with the error). */
  get challengeToken(): string {
    return this.#challengeToken;
  }
}

function codeName(code: unknown, status: number): Code {
  if (typeof code === "number" && CODES[code] !== undefined) {
    return CODES[code];
  }
  const byStatus: Record<number, Code> = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
  };
  return byStatus[status] ?? "UNKNOWN";
}

function seconds(duration: unknown): number | undefined {
  return typeof duration === "string" && /^-?\d+(\.\d+)?s$/.test(duration) ? Number.parseFloat(duration) : undefined;
}

/** The typed error of a non-2xx answer (its body parsed if it is a google.rpc.Status). */
export function errorFromBody(status: number, body: unknown, requestId: string): TenantmeshError {
  const parsed = (typeof body === "object" && body !== null ? body : {}) as Partial<Status>;
  const init: ConstructorParameters<typeof TenantmeshError>[0] = {
    status,
    code: codeName(parsed.code, status),
    message: typeof parsed.message === "string" ? parsed.message : `HTTP ${status}`,
    requestId,
    fieldViolations: [],
  };
  for (const detail of parsed.details ?? []) {
    const item = detail as Record<string, unknown>;
    if (item["@type"] === ERROR_INFO) {
      init.reason = String(item.reason ?? "");
      init.domain = String(item.domain ?? "");
      init.metadata = (item.metadata ?? {}) as Record<string, string>;
    } else if (item["@type"] === BAD_REQUEST) {
      const violations = (item.fieldViolations ?? []) as Partial<FieldViolation>[];
      init.fieldViolations = violations.map((v) => ({
        field: v.field ?? "",
        description: v.description ?? "",
        reason: v.reason ?? "",
      }));
    } else if (item["@type"] === RETRY_INFO) {
      init.retryDelay = seconds(item.retryDelay);
    }
  }
  return new TenantmeshError(init);
}
