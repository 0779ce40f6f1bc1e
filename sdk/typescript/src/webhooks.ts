// Checks that a webhook delivery came from Tenantmesh (the Standard Webhooks scheme).
//
// Deliveries carry webhook-id, webhook-timestamp and webhook-signature headers; the signature
// is "v1,<base64 HMAC-SHA256 of `${id}.${timestamp}.${body}`>" under the webhook's signing
// secret ("whsec_..."). During a secret rotation the header holds a signature by the old and
// by the new secret; either verifies. Verify the raw body exactly as received, before parsing.
// Web Crypto only: the same code runs in browsers, Node >= 20, Deno and workers.

const PREFIX = "whsec_";
// Deliveries older or newer than this are refused: a captured delivery cannot be replayed later.
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The delivery is not authentic (or too old): answer it with 400 and ignore it. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

export interface WebhookEvent {
  id: string;
  type: string;
  tenantId: string;
  time: string;
  data: Record<string, unknown>;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? "";
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(" ") : (value ?? "");
  }
  return "";
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  // Constant time for equal lengths: the comparison reveals nothing about where they differ.
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i += 1) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}

export class WebhookVerifier {
  private readonly keys: Promise<CryptoKey[]>;
  private readonly toleranceSeconds: number;

  /** One secret, or several while you switch to a rotated one. */
  constructor(secrets: string | string[], options: { toleranceSeconds?: number } = {}) {
    const list = Array.isArray(secrets) ? secrets : [secrets];
    if (list.length === 0) throw new TypeError("give at least one signing secret");
    const raw = list.map((secret) => {
      try {
        return fromBase64(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret);
      } catch {
        throw new TypeError("a signing secret is 'whsec_' followed by base64");
      }
    });
    this.keys = Promise.all(
      raw.map((bytes) =>
        crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
      ),
    );
    this.toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  }

  /** The delivered event if the headers sign `body`; throws WebhookVerificationError otherwise. */
  async verify(body: string | Uint8Array, headers: HeaderSource, now: number = Date.now() / 1000): Promise<WebhookEvent> {
    const id = header(headers, "webhook-id");
    const stamp = header(headers, "webhook-timestamp");
    const signatures = header(headers, "webhook-signature");
    if (!id || !stamp || !signatures) {
      throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature");
    }
    if (!/^\d+$/.test(stamp)) throw new WebhookVerificationError("webhook-timestamp is not a number");
    if (Math.abs(now - Number(stamp)) > this.toleranceSeconds) {
      throw new WebhookVerificationError("webhook-timestamp is outside the tolerance");
    }
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    const prefix = new TextEncoder().encode(`${id}.${stamp}.`);
    const signed = new Uint8Array(prefix.length + bytes.length);
    signed.set(prefix);
    signed.set(bytes, prefix.length);
    const expected = await Promise.all(
      (await this.keys).map(async (key) => new Uint8Array(await crypto.subtle.sign("HMAC", key, signed))),
    );
    for (const candidate of signatures.split(" ")) {
      const [version, encoded] = candidate.split(",", 2);
      if (version !== "v1" || !encoded) continue;
      let given: Uint8Array;
      try {
        given = fromBase64(encoded);
      } catch {
        continue;
      }
      if (expected.some((digest) => sameBytes(given, digest))) {
        return JSON.parse(new TextDecoder().decode(bytes)) as WebhookEvent;
      }
    }
    throw new WebhookVerificationError("no signature matches");
  }
}
