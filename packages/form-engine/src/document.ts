/**
 * A bare JSON Schema document checked as the server checks one (a service's configuration against
 * its config_schema): the same Ajv set-up and error mapping as form answers, without a form.
 */
import { message } from "./messages.js";
import { compileValidator, schemaErrors } from "./schema.js";
import type { Json, JsonObject } from "./values.js";

export interface DocumentViolation {
  pointer: string;
  keyword: string;
  message: string;
}

const compiled = new WeakMap<JsonObject, ReturnType<typeof compileValidator>>();

/** Every violation of ``document`` under ``schema`` (JSON Pointer + keyword), with its message. */
export function validateDocument(schema: JsonObject, document: Json, locale = "en"): DocumentViolation[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = compileValidator(schema);
    compiled.set(schema, validate);
  }
  return schemaErrors(validate, document).map(([pointer, keyword]) => ({ pointer, keyword, message: message(keyword, locale) }));
}
