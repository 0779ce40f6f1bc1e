// A JSON Schema (the subset service configs use) as a list of form controls, and the answers'
// violations from the form engine: the browser validates with the same rules as the server.

import { validateDocument, type DocumentViolation, type Json, type JsonObject } from "@tenantmesh/form-engine";

export interface Control {
  /** JSON Pointer of the answer, e.g. "/smtp/host". */
  pointer: string;
  label: string;
  kind: "text" | "number" | "integer" | "boolean" | "choice" | "json";
  required: boolean;
  choices: Json[];
  description: string;
}

function asObject(value: unknown): JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};
}

/** The controls of ``schema``'s properties, nested objects flattened with their pointers. */
export function controlsOf(schema: unknown, prefix = ""): Control[] {
  const object = asObject(schema);
  const properties = asObject(object.properties);
  const required = new Set(Array.isArray(object.required) ? (object.required as string[]) : []);
  const controls: Control[] = [];
  for (const [key, raw] of Object.entries(properties)) {
    const property = asObject(raw);
    const pointer = `${prefix}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
    const type = Array.isArray(property.type) ? property.type.find((t) => t !== "null") : property.type;
    if (type === "object" && property.properties) {
      controls.push(...controlsOf(property, pointer));
      continue;
    }
    const kind: Control["kind"] = Array.isArray(property.enum)
      ? "choice"
      : type === "boolean"
        ? "boolean"
        : type === "integer"
          ? "integer"
          : type === "number"
            ? "number"
            : type === "string"
              ? "text"
              : "json";
    controls.push({
      pointer,
      label: typeof property.title === "string" ? property.title : key,
      kind,
      required: required.has(key),
      choices: Array.isArray(property.enum) ? (property.enum as Json[]) : [],
      description: typeof property.description === "string" ? property.description : "",
    });
  }
  return controls;
}

function unescape(part: string): string {
  return part.replace(/~1/g, "/").replace(/~0/g, "~");
}

export function getAt(document: JsonObject, pointer: string): Json | undefined {
  let current: Json | undefined = document;
  for (const part of pointer.split("/").slice(1)) {
    current = asObject(current)[unescape(part)];
  }
  return current;
}

/** A copy of ``document`` with ``pointer`` set (undefined removes it). */
export function setAt(document: JsonObject, pointer: string, value: Json | undefined): JsonObject {
  const parts = pointer.split("/").slice(1).map(unescape);
  const root: JsonObject = structuredClone(document);
  let current = root;
  parts.slice(0, -1).forEach((part) => {
    current[part] = asObject(current[part]);
    current = current[part] as JsonObject;
  });
  const last = parts[parts.length - 1] ?? "";
  if (value === undefined) {
    Reflect.deleteProperty(current, last); // an empty control means "not given"
    return root;
  }
  current[last] = value;
  return root;
}

/** The violations of ``answers`` under ``schema``, as the server would find them (a schema the
 * browser cannot compile is left to the server to judge). */
export function violationsOf(schema: JsonObject, answers: JsonObject, locale: string): DocumentViolation[] {
  try {
    return validateDocument(schema, answers, locale);
  } catch {
    return [];
  }
}
