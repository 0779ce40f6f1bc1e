// Types of every operation, derived from the generated OpenAPI types (src/generated/schema.ts).

import type { components, operations } from "./generated/schema.js";

export type { components, operations, paths } from "./generated/schema.js";

/** Every operation of the API, by its OpenAPI operationId ("TenantService_CreateTenant"). */
export type OperationId = keyof operations;

/** A schema of the document by name ("tenantmesh.tenants.v1.Tenant"). */
export type Schema<Name extends keyof components["schemas"]> = components["schemas"][Name];

/** A request body: the JSON message, or for a binary (HttpBody) operation anything `fetch` sends. */
type Sent<T> = T extends { content: { "application/json": infer Body } }
  ? Body
  : T extends { content: object }
    ? BodyInit
    : never;
/** An answer: the JSON message, or for a binary (HttpBody) operation the Response itself. */
type Received<T> = T extends { content: { "application/json": infer Body } }
  ? Body
  : T extends { content: object }
    ? Response
    : never;
type Params<K extends OperationId> = operations[K]["parameters"];

export type PathParams<K extends OperationId> = Params<K> extends { path: infer P } ? P : never;
export type QueryParams<K extends OperationId> = Params<K> extends { query?: infer Q } ? Exclude<Q, undefined> : never;
export type RequestBody<K extends OperationId> = operations[K] extends { requestBody: infer R }
  ? Sent<R>
  : operations[K] extends { requestBody?: infer R }
    ? Sent<Exclude<R, undefined>>
    : never;
/** What `call` resolves to: the JSON answer, or the `Response` of a binary (HttpBody) answer
 * (read it with `.blob()`, `.text()`, `.arrayBuffer()` or `.body`). */
export type ResponseBody<K extends OperationId> = operations[K]["responses"] extends { 200: infer R }
  ? Received<R>
  : never;

/** One message of a server stream (its answer is a JSON array of them). */
export type StreamItem<K extends OperationId> = ResponseBody<K> extends (infer Item)[] ? Item : never;

/** An item of a List operation's page: the element type of its array field. */
export type PageItem<K extends OperationId> = {
  [Field in keyof ResponseBody<K>]-?: NonNullable<ResponseBody<K>[Field]> extends (infer Item)[] ? Item : never;
}[keyof ResponseBody<K>];

export interface CallOptions<K extends OperationId> {
  /** Path parameters, e.g. `{ tenantId }` for `/v1/tenants/{tenantId}`. */
  path?: PathParams<K>;
  /** Query parameters; arrays repeat the parameter. */
  query?: QueryParams<K>;
  /** The JSON body, for operations that take one; for a binary (HttpBody) request such as
   * FileService_UploadFile, any BodyInit (bytes, Blob, string, stream), sent as given with the
   * `content-type` of `headers` (else the Blob's type, else application/octet-stream). */
  body?: RequestBody<K>;
  /** The tenant this call acts in (`x-tenant-id`), instead of the client's. */
  tenantId?: string;
  /** Cancels the call (and a stream's reading). */
  signal?: AbortSignal;
  /** Deadline in milliseconds; unary calls default to the client's, streams have none. */
  timeoutMs?: number;
  headers?: Record<string, string>;
}
