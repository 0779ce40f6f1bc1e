/**
 * The answers' JSON Schema: pinned keywords, references and the compiled validator; the twin of
 * services/forms/engine/schema.py. Ajv2020 is configured to decide exactly what jsonschema-rs does
 * on the server: all errors, own properties only, strict schemas, Unicode patterns, the engine's
 * format table, and multipleOf decided on the numbers' shortest decimal forms.
 */
import Ajv2020Module, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { FORMATS } from "./formats.js";
import { getIn, isNumber, isObject, pointer, type Json, type JsonObject, type Part } from "./values.js";

// ajv is CommonJS: its class is the module's default export under Node, the module itself in bundlers.
type Ajv2020Class = typeof Ajv2020Module.default;
const Ajv2020 = ((Ajv2020Module as unknown as { default?: Ajv2020Class }).default ??
  (Ajv2020Module as unknown as Ajv2020Class));

export const DIALECT = "https://json-schema.org/draft/2020-12/schema";

export const KEYWORDS: ReadonlySet<string> = new Set([
  "$schema", "$defs", "$ref", "$comment", "title", "description", "default", "examples",
  "readOnly", "writeOnly", "deprecated", "type", "enum", "const", "multipleOf", "maximum",
  "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
  "maxItems", "minItems", "uniqueItems", "items", "contains", "minContains",
  "maxContains", "maxProperties", "minProperties", "required", "properties",
  "additionalProperties", "dependentRequired", "allOf", "anyOf", "oneOf", "not", "if", "then",
  "else", "format",
]);
const SINGLE_SUBSCHEMA = ["additionalProperties", "items", "contains", "not", "if", "then", "else"];
const SUBSCHEMA_LISTS = ["allOf", "anyOf", "oneOf"];
const SUBSCHEMA_MAPS = ["properties", "$defs"];
const MAX_REFERENCE_HOPS = 32;

/** Every schema inside ``node`` (``node`` first), with its path. */
export function* subschemas(node: Json, parts: Part[]): Generator<[Part[], Json]> {
  yield [parts, node];
  if (!isObject(node)) return;
  for (const keyword of SINGLE_SUBSCHEMA) {
    if (keyword in node) yield* subschemas(node[keyword] as Json, [...parts, keyword]);
  }
  for (const keyword of SUBSCHEMA_LISTS) {
    const list = node[keyword];
    if (Array.isArray(list)) for (const [index, item] of list.entries()) yield* subschemas(item, [...parts, keyword, index]);
  }
  for (const keyword of SUBSCHEMA_MAPS) {
    const map = node[keyword];
    if (isObject(map)) for (const name of Object.keys(map)) yield* subschemas(map[name] as Json, [...parts, keyword, name]);
  }
}

/** The path a local reference names, or null if it leaves the document. */
export function referenceParts(reference: string): Part[] | null {
  if (reference === "#") return [];
  if (!reference.startsWith("#/")) return null;
  return reference.slice(2).split("/").map((token) => token.replace(/~1/g, "/").replace(/~0/g, "~"));
}

export function lookup(document: Json, parts: readonly Part[]): [boolean, Json] {
  let current: Json = document;
  for (const token of parts) {
    const part = Array.isArray(current) && typeof token === "string" && /^[0-9]+$/.test(token) ? Number(token) : token;
    const [found, value] = getIn(current, [part]);
    if (!found) return [false, null];
    current = value;
  }
  return [true, current];
}

/** Follow $ref from the schema at ``parts`` to the schema that describes the value. */
export function resolve(document: Json, parts: Part[]): [Part[], Json] | null {
  let [found, node] = lookup(document, parts);
  let hops = 0;
  while (found && isObject(node) && typeof node.$ref === "string") {
    const target = referenceParts(node.$ref);
    hops += 1;
    if (target === null || hops > MAX_REFERENCE_HOPS) return null;
    parts = target;
    [found, node] = lookup(document, parts);
  }
  return found ? [parts, node] : null;
}

// Backreferences by name, escaped UTF-16 surrogates and two Unicode properties: valid here, but the
// server's regex engine cannot run them, so both sides refuse them (services/forms/engine/patterns.py).
const UNSUPPORTED_ESCAPE =
  /(?:^|[^\\])(?:\\\\)*\\(?:k|u[dD][89abAB]|[pP]\{(?:Surrogate|Changes_When_NFKC_Casefolded|CWKCF)\})/u;

export function patternCompiles(pattern: string): boolean {
  if (UNSUPPORTED_ESCAPE.test(pattern)) return false;
  try {
    new RegExp(pattern, "u");
    return true;
  } catch {
    return false;
  }
}

// -- multipleOf, decided on decimals -----------------------------------------------------------------

function decimal(value: number): [bigint, number] {
  // String() gives the shortest digits that round-trip, as Python's repr() does.
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(value));
  if (!match) return [0n, 0];
  const fraction = match[3] ?? "";
  const mantissa = BigInt((match[2] ?? "0") + fraction);
  return [match[1] === "-" ? -mantissa : mantissa, Number(match[4] ?? "0") - fraction.length];
}

export function isMultiple(value: number, divisor: number): boolean {
  const [a, ea] = decimal(value);
  const [b, eb] = decimal(divisor);
  const common = Math.min(ea, eb);
  const scaledA = a * 10n ** BigInt(ea - common);
  const scaledB = b * 10n ** BigInt(eb - common);
  return scaledB !== 0n && scaledA % scaledB === 0n;
}

// -- the compiled validator ----------------------------------------------------------------------------

function newAjv(): InstanceType<Ajv2020Class> {
  const ajv = new Ajv2020({
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    ownProperties: true,
    validateFormats: true,
    unicodeRegExp: true,
    formats: Object.fromEntries(Object.entries(FORMATS).map(([name, check]) => [name, { type: "string", validate: check }])),
  });
  ajv.removeKeyword("multipleOf");
  ajv.addKeyword({
    keyword: "multipleOf",
    type: "number",
    schemaType: "number",
    errors: false,
    validate: (divisor: number, data: number) => isMultiple(data, divisor),
  });
  return ajv;
}

const metaAjv = newAjv();

/** [JSON Pointer inside the schema, message] of every way ``schema`` breaks the 2020-12 meta-schema. */
export function metaErrors(schema: JsonObject): [string, string][] {
  if (metaAjv.validateSchema(schema)) return [];
  return (metaAjv.errors ?? []).map((error: ErrorObject) => [error.instancePath, error.message ?? "invalid"]);
}

export function relaxed(schema: JsonObject, levels: readonly [Part[], ReadonlySet<string>][]): JsonObject {
  const document = structuredClone(schema);
  for (const [parts, names] of levels) {
    const [found, node] = lookup(document, parts);
    if (found && isObject(node) && Array.isArray(node.required)) {
      node.required = node.required.filter((name) => !(typeof name === "string" && names.has(name)));
    }
  }
  return document;
}

export function compileValidator(schema: JsonObject): ValidateFunction {
  return newAjv().compile(schema);
}

/**
 * [JSON Pointer, keyword] of every way ``answers`` fails, in the server's terms: the failing
 * alternative's own errors and Ajv's extra "if" error are left out (jsonschema-rs reports the anyOf,
 * oneOf or then-branch error alone), a refused or missing property is named at its own path, and
 * items refused by ``items: false`` each at theirs.
 */
export function schemaErrors(validate: ValidateFunction, answers: Json): [string, string][] {
  validate(answers);
  const found: [string, string][] = [];
  for (const error of validate.errors ?? []) {
    if (error.keyword === "if" || insideAlternative(error.schemaPath)) continue;
    const params = error.params as Record<string, unknown>;
    const keyword = error.keyword === "false schema" ? "false" : error.keyword;
    if (keyword === "additionalProperties" && typeof params.additionalProperty === "string") {
      found.push([error.instancePath + pointer([params.additionalProperty]), keyword]);
    } else if ((keyword === "required" || keyword === "dependentRequired") && typeof params.missingProperty === "string") {
      found.push([error.instancePath + pointer([params.missingProperty]), keyword]);
    } else if (keyword === "items" && isNumber(params.limit)) {
      const [, items] = lookupPointer(answers, error.instancePath);
      const count = Array.isArray(items) ? items.length : 0;
      for (let index = params.limit; index < count; index += 1) found.push([`${error.instancePath}/${index}`, "items"]);
    } else {
      found.push([error.instancePath, keyword]);
    }
  }
  return found;
}

// Keywords followed in a schema path by a name (not a keyword), and those followed by an index.
const NAMED = new Set(["properties", "$defs", "dependentRequired"]);
const INDEXED = new Set(["allOf", "anyOf", "oneOf"]);
// Keywords whose subschemas' errors jsonschema-rs folds into the keyword's own error.
const FOLDED = new Set(["anyOf", "oneOf", "contains", "not"]);

/** Whether an error comes from inside anyOf/oneOf/contains/not (jsonschema-rs reports only the keyword). */
function insideAlternative(schemaPath: string): boolean {
  const tokens = schemaPath.replace(/^#\/?/, "").split("/").filter((token) => token !== "");
  let index = 0;
  while (index < tokens.length) {
    const keyword = tokens[index] as string;
    const next = index + (NAMED.has(keyword) || INDEXED.has(keyword) ? 2 : 1);
    if (FOLDED.has(keyword) && next < tokens.length) return true;
    index = next;
  }
  return false;
}

function lookupPointer(document: Json, path: string): [boolean, Json] {
  if (path === "") return [true, document];
  const parts = path.slice(1).split("/").map((token) => token.replace(/~1/g, "/").replace(/~0/g, "~"));
  return lookup(document, parts);
}
