// The builder's edits of a form definition (pure; unit-tested).
import type { JsonObject } from "@tenantmesh/form-engine";

export const FIELD_TYPES = ["SHORT_TEXT", "LONG_TEXT", "NUMBER", "INTEGER", "CHECKBOX", "DATE", "EMAIL", "URL", "FILE"] as const;
export type BuilderFieldType = (typeof FIELD_TYPES)[number];

const SCHEMA_OF: Record<BuilderFieldType, JsonObject> = {
  SHORT_TEXT: { type: "string", maxLength: 200 },
  LONG_TEXT: { type: "string", maxLength: 4000 },
  NUMBER: { type: "number" },
  INTEGER: { type: "integer" },
  CHECKBOX: { type: "boolean" },
  DATE: { type: "string", format: "date" },
  EMAIL: { type: "string", format: "email" },
  URL: { type: "string", format: "uri" },
  // The uploaded file's reference (the platform's upload limits apply; file_rules narrow them).
  FILE: { type: "string" },
};

export function emptyDefinition(): JsonObject {
  return { schema: { type: "object", properties: {} }, fields: [] };
}

/** ``definition`` with one more field: its answer's schema and its layout entry. */
export function addField(
  definition: JsonObject,
  field: { key: string; type: BuilderFieldType; label: string; locale: string; required: boolean },
): JsonObject {
  const next = structuredClone(definition);
  const schema = (next.schema ?? { type: "object" }) as JsonObject;
  const properties = (schema.properties ?? {}) as JsonObject;
  properties[field.key] = SCHEMA_OF[field.type];
  schema.properties = properties;
  if (field.required) {
    schema.required = [...new Set([...((schema.required as string[] | undefined) ?? []), field.key])];
  }
  next.schema = schema;
  const fields = ((next.fields as JsonObject[] | undefined) ?? []).slice();
  fields.push({ key: field.key, type: `FIELD_TYPE_${field.type}`, label: { [field.locale]: field.label } });
  next.fields = fields;
  return next;
}

/** The definition's text parsed, or null when it is not a JSON object. */
export function parseDefinition(text: string): JsonObject | null {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : null;
  } catch {
    return null;
  }
}
