// A service version's contract from a file the operator picks (pure; unit-tested): a `.json` file
// is an OpenAPI document, anything else a serialized FileDescriptorSet (`buf build -o x.binpb`),
// sent base64-encoded as proto3 JSON carries bytes.

export type Contract = { openapi: Record<string, unknown> } | { descriptorSet: string };

export function base64Of(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The contract in ``bytes`` of a file named ``name``; null for a .json file that is not a JSON object. */
export function contractOf(name: string, bytes: Uint8Array): Contract | null {
  if (name.toLowerCase().endsWith(".json")) {
    try {
      const value = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
      return typeof value === "object" && value !== null && !Array.isArray(value) ? { openapi: value as Record<string, unknown> } : null;
    } catch {
      return null;
    }
  }
  return { descriptorSet: base64Of(bytes) };
}

/** The breaking changes a CONTRACT_BREAKING refusal lists (its "breaks" metadata, one a line). */
export function breaksOf(metadata: Record<string, string>): string[] {
  return (metadata.breaks ?? "").split("\n").filter((line) => line.trim() !== "");
}
