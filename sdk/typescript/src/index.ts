// @tenantmesh/sdk: typed REST calls to a Tenantmesh edge. See README.md.

export { TenantmeshClient } from "./client.js";
export type { ClientOptions, Credentials } from "./client.js";
export { CODES, MfaRequiredError, TenantmeshError, errorFromBody } from "./errors.js";
export type { Code, FieldViolation } from "./errors.js";
export { jsonArrayElements } from "./stream.js";
export { DEFAULT_TOLERANCE_SECONDS, WebhookVerificationError, WebhookVerifier } from "./webhooks.js";
export type { WebhookEvent } from "./webhooks.js";
export { OPERATIONS } from "./generated/operations.js";
export type { OperationInfo } from "./generated/operations.js";
export type * from "./types.js";
