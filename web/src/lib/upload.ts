"use client";
// Uploads for FILE fields: the file's bytes as the raw body of POST /v1/files:upload (see the
// files decisions), sent with XMLHttpRequest rather than fetch because only it reports upload
// progress; cancellable through an AbortSignal. The answer is the file's reference.

import { errorFromBody, type Schema } from "@tenantmesh/sdk";
import { authHeaders, currentTokens } from "./api";

export type UploadedFile = Schema<"tenantmesh.forms.v1.File">;

export interface UploadProgress {
  loaded: number;
  total: number;
}

/** Thrown when the upload was cancelled (the signal aborted it). */
export class UploadCancelled extends Error {
  constructor() {
    super("upload cancelled");
    this.name = "UploadCancelled";
  }
}

function send(
  file: Blob & { name?: string },
  headers: Record<string, string>,
  onProgress: (progress: UploadProgress) => void,
  signal: AbortSignal | undefined,
): Promise<{ status: number; body: unknown; requestId: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/v1/files:upload?filename=${encodeURIComponent(file.name ?? "file")}`);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    // The body's type is the file's: the edge passes it on as the content type the files service checks.
    xhr.setRequestHeader("content-type", file.type || "application/octet-stream");
    xhr.responseType = "text";
    xhr.upload.onprogress = (event) => onProgress({ loaded: event.loaded, total: event.lengthComputable ? event.total : file.size });
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText || "null");
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, body, requestId: xhr.getResponseHeader("x-request-id") ?? "" });
    };
    xhr.onerror = () => reject(new TypeError("the upload did not reach the server"));
    xhr.onabort = () => reject(new UploadCancelled());
    if (signal?.aborted) {
      reject(new UploadCancelled());
      return;
    }
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

/** Uploads ``file`` as the signed-in user; progress as bytes sent. Refusals are TenantmeshErrors
 * (FILE_TOO_LARGE, FILE_TYPE_NOT_ALLOWED, …), as every other call's. */
export async function uploadFile(
  file: Blob & { name?: string },
  { onProgress = () => undefined, signal }: { onProgress?: (progress: UploadProgress) => void; signal?: AbortSignal } = {},
): Promise<UploadedFile> {
  let answer = await send(file, authHeaders(await currentTokens()), onProgress, signal);
  if (answer.status === 401) {
    // The access token was refused (revoked after a role change, say): renew once and retry.
    const renewed = await currentTokens(true);
    if (renewed) answer = await send(file, authHeaders(renewed), onProgress, signal);
  }
  if (answer.status < 200 || answer.status >= 300) {
    throw errorFromBody(answer.status, answer.body, answer.requestId);
  }
  const uploaded = (answer.body as { file?: UploadedFile } | null)?.file;
  if (!uploaded?.fileId) {
    throw errorFromBody(502, null, answer.requestId);
  }
  return uploaded;
}

/** Why ``file`` cannot answer a field with these rules, before anything is sent: the same limits
 * the forms service checks when the submission arrives (the platform's own are checked at upload). */
export function fileRuleProblem(
  file: { size: number; type: string },
  rules: { maxBytes?: string | number; accept?: readonly string[] } | undefined,
): "tooLarge" | "typeNotAllowed" | null {
  const maxBytes = Number(rules?.maxBytes ?? 0);
  if (maxBytes > 0 && file.size > maxBytes) return "tooLarge";
  const accept = rules?.accept ?? [];
  const type = file.type.toLowerCase();
  if (accept.length > 0 && !accept.some((a) => (a.endsWith("/*") ? type.startsWith(a.slice(0, -1)) : type === a))) {
    return "typeNotAllowed";
  }
  return null;
}
