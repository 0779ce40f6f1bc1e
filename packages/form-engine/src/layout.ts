/** The layout of a definition and its agreement with the schema; the twin of services/forms/engine/layout.py. */
import type { Problem, Reason } from "./model.js";
import { resolve } from "./schema.js";
import { deepEqual, isNumber, isObject, pointer, type Json, type JsonObject, type Part } from "./values.js";

const KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const RESERVED_KEYS = new Set(["__proto__", "constructor", "prototype"]);

export const VALUE_TYPES: ReadonlySet<string> = new Set([
  "SHORT_TEXT", "LONG_TEXT", "NUMBER", "INTEGER", "CHECKBOX", "SINGLE_CHOICE", "MULTIPLE_CHOICE",
  "DATE", "DATE_TIME", "TIME", "EMAIL", "URL", "PHONE", "FILE", "GROUP", "REPEATING_GROUP",
  "HIDDEN", "COMPUTED",
]);
const LAYOUT_ONLY_TYPES = new Set(["SECTION", "PAGE"]);
export const CONTAINER_TYPES: ReadonlySet<string> = new Set(["SECTION", "PAGE", "GROUP", "REPEATING_GROUP"]);
export const LEVEL_TYPES: ReadonlySet<string> = new Set(["GROUP", "REPEATING_GROUP"]);
const CHOICE_TYPES = new Set(["SINGLE_CHOICE", "MULTIPLE_CHOICE"]);

export const WIDGETS: Readonly<Record<string, ReadonlySet<string>>> = {
  SHORT_TEXT: new Set(["TEXT_INPUT", "TEXTAREA"]),
  LONG_TEXT: new Set(["TEXTAREA", "TEXT_INPUT"]),
  NUMBER: new Set(["NUMBER_INPUT", "SLIDER"]),
  INTEGER: new Set(["NUMBER_INPUT", "SLIDER"]),
  CHECKBOX: new Set(["CHECKBOX", "SWITCH"]),
  SINGLE_CHOICE: new Set(["SELECT", "RADIO"]),
  MULTIPLE_CHOICE: new Set(["CHECKBOXES", "MULTI_SELECT"]),
  DATE: new Set(["DATE_PICKER", "TEXT_INPUT"]),
  DATE_TIME: new Set(["DATE_TIME_PICKER", "TEXT_INPUT"]),
  TIME: new Set(["TIME_PICKER", "TEXT_INPUT"]),
  EMAIL: new Set(["EMAIL_INPUT", "TEXT_INPUT"]),
  URL: new Set(["URL_INPUT", "TEXT_INPUT"]),
  PHONE: new Set(["PHONE_INPUT", "TEXT_INPUT"]),
  FILE: new Set(["FILE_UPLOAD"]),
  COMPUTED: new Set(["READ_ONLY"]),
};
const FORMAT_OF_TYPE: Readonly<Record<string, string>> = {
  EMAIL: "email",
  URL: "uri",
  DATE: "date",
  DATE_TIME: "date-time",
  TIME: "time",
};
export const LOCALIZED_FIELD_TEXTS = ["label", "helpText", "placeholder"] as const;

export class Element {
  children: Element[] = [];
  schemaParts: Part[] | null = null;
  schema: Json = null;
  levelParts: Part[] | null = null;
  requiredBySchema = false;
  readonly levels: readonly Element[];

  constructor(
    readonly key: string,
    readonly type: string,
    readonly path: string,
    readonly raw: JsonObject,
    readonly definitionParts: readonly Part[],
    readonly index: number,
    readonly parent: Element | null,
    readonly level: Element | null,
    readonly repeats: readonly Element[],
  ) {
    const chain: Element[] = [];
    for (let current = level; current !== null; current = current.level) chain.unshift(current);
    this.levels = chain;
  }

  get isValue(): boolean {
    return VALUE_TYPES.has(this.type);
  }

  rule(name: string): Json | undefined {
    const value = this.raw[name];
    return value === null ? undefined : value;
  }

  pointerParts(rows: readonly number[]): Part[] {
    const parts: Part[] = [];
    let row = 0;
    for (const level of this.levels) {
      parts.push(level.key);
      if (level.type === "REPEATING_GROUP") parts.push(rows[row++] ?? 0);
    }
    parts.push(this.key);
    return parts;
  }
}

export class Layout {
  elements: Element[] = [];
  top: Element[] = [];
  members = new Map<Element | null, Map<string, Element>>([[null, new Map()]]);
  byPath = new Map<string, Element>();

  answerChildren(level: Element | null): Element[] {
    return [...(this.members.get(level)?.values() ?? [])].filter((element) => element.isValue);
  }
}

export function fieldType(raw: Json | undefined): string {
  const value = isObject(raw) ? raw.type : undefined;
  return typeof value === "string" ? value.replace(/^FIELD_TYPE_/, "") : "";
}

function problem(problems: Problem[], parts: readonly Part[], reason: Reason, message: string): void {
  problems.push({ pointer: pointer(parts), reason, message });
}

export function parseLayout(definition: JsonObject, problems: Problem[]): Layout {
  const layout = new Layout();
  const fields = definition.fields ?? [];
  if (!Array.isArray(fields)) {
    problem(problems, ["fields"], "DEFINITION_INVALID", "fields must be an array");
    return layout;
  }
  layout.top = parse(layout, fields, null, null, [], ["fields"], problems);
  const pages = layout.top.filter((element) => element.type === "PAGE");
  if (pages.length > 0 && pages.length !== layout.top.length) {
    for (const element of layout.top) {
      if (element.type !== "PAGE") problem(problems, element.definitionParts, "LAYOUT_TYPE_INVALID", "mix of pages and fields");
    }
  }
  return layout;
}

function parse(
  layout: Layout,
  items: Json[],
  parent: Element | null,
  level: Element | null,
  repeats: readonly Element[],
  parts: readonly Part[],
  problems: Problem[],
): Element[] {
  const parsed: [number, number, Element][] = [];
  items.forEach((raw, index) => {
    const here = [...parts, index];
    if (!isObject(raw)) {
      problem(problems, here, "DEFINITION_INVALID", "a field must be an object");
      return;
    }
    const key = raw.key;
    const kind = fieldType(raw);
    if (typeof key !== "string" || !KEY.test(key) || RESERVED_KEYS.has(key)) {
      problem(problems, [...here, "key"], "LAYOUT_KEY_INVALID", "not a valid field key");
      return;
    }
    if (!VALUE_TYPES.has(kind) && !LAYOUT_ONLY_TYPES.has(kind)) {
      problem(problems, [...here, "type"], "LAYOUT_TYPE_INVALID", "unknown field type");
      return;
    }
    if (kind === "PAGE" && parent !== null) {
      problem(problems, [...here, "type"], "LAYOUT_TYPE_INVALID", "pages are top-level only");
      return;
    }
    let members = layout.members.get(level);
    if (!members) layout.members.set(level, (members = new Map<string, Element>()));
    if (members.has(key)) {
      problem(problems, [...here, "key"], "LAYOUT_DUPLICATE_KEY", `'${key}' is used twice`);
      return;
    }
    const path = level !== null ? `${level.path}.${key}` : key;
    const element = new Element(key, kind, path, raw, here, layout.elements.length, parent, level, repeats);
    members.set(key, element);
    layout.elements.push(element);
    layout.byPath.set(path, element);
    const order = raw.order ?? 0;
    parsed.push([isNumber(order) ? order : 0, index, element]);
    const children = raw.fields ?? [];
    if (!Array.isArray(children)) {
      problem(problems, [...here, "fields"], "DEFINITION_INVALID", "fields must be an array");
    } else if (children.length > 0 && !CONTAINER_TYPES.has(kind)) {
      problem(problems, [...here, "fields"], "LAYOUT_CHILDREN_INVALID", `a ${kind} field holds no fields`);
    } else if (children.length > 0) {
      const childLevel = LEVEL_TYPES.has(kind) ? element : level;
      const childRepeats = kind === "REPEATING_GROUP" ? [...repeats, element] : repeats;
      if (LEVEL_TYPES.has(kind) && !layout.members.has(element)) layout.members.set(element, new Map());
      element.children = parse(layout, children, element, childLevel, childRepeats, [...here, "fields"], problems);
    }
  });
  parsed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return parsed.map(([, , element]) => element);
}

// -- the layout against the schema ------------------------------------------------------------------------

function isObjectSchema(node: Json): node is JsonObject {
  return isObject(node) && node.type === "object" && isObject(node.properties);
}

export function agreeWithSchema(layout: Layout, schema: JsonObject, problems: Problem[]): void {
  const root = resolve(schema, []);
  if (root === null || !isObjectSchema(root[1])) {
    problem(problems, ["schema"], "SCHEMA_NOT_OBJECT", "the answers' schema must describe an object");
    return;
  }
  agreeLevel(layout, schema, null, root[0], root[1], problems);
}

function agreeLevel(
  layout: Layout,
  schema: JsonObject,
  level: Element | null,
  levelParts: Part[],
  levelSchema: JsonObject,
  problems: Problem[],
): void {
  const properties = levelSchema.properties as JsonObject;
  const required = levelSchema.required;
  const children = layout.answerChildren(level);
  const keys = new Set(children.map((child) => child.key));
  for (const name of Object.keys(properties)) {
    if (!keys.has(name)) {
      problem(problems, ["schema", ...levelParts, "properties", name], "LAYOUT_PROPERTY_WITHOUT_FIELD", `property '${name}' has no field`);
    }
  }
  for (const child of children) {
    if (!Object.prototype.hasOwnProperty.call(properties, child.key)) {
      problem(problems, child.definitionParts, "LAYOUT_FIELD_NOT_IN_SCHEMA", `no property '${child.key}' in the schema`);
      continue;
    }
    const resolved = resolve(schema, [...levelParts, "properties", child.key]);
    if (resolved === null) continue;
    [child.schemaParts, child.schema] = resolved;
    child.requiredBySchema = Array.isArray(required) && required.includes(child.key);
    agreeField(layout, schema, child, problems);
  }
}

function agreeField(layout: Layout, schema: JsonObject, element: Element, problems: Problem[]): void {
  const node = element.schema;
  const kind = element.type;
  if (kind === "GROUP") {
    if (!isObjectSchema(node)) {
      problem(problems, element.definitionParts, "LAYOUT_GROUP_NOT_OBJECT", "a group's schema must be an object schema");
      return;
    }
    element.levelParts = element.schemaParts;
    agreeLevel(layout, schema, element, element.schemaParts ?? [], node, problems);
    return;
  }
  if (kind === "REPEATING_GROUP") {
    const items = isObject(node) ? resolve(schema, [...(element.schemaParts ?? []), "items"]) : null;
    if (!(isObject(node) && node.type === "array" && items && isObjectSchema(items[1]))) {
      problem(problems, element.definitionParts, "LAYOUT_REPEATING_GROUP_NOT_ARRAY_OF_OBJECTS", "needs an array of object schemas");
      return;
    }
    for (const name of ["minItems", "maxItems"]) {
      if (name in element.raw && !deepEqual(element.raw[name], node[name])) {
        problem(problems, [...element.definitionParts, name], "LAYOUT_ITEMS_MISMATCH", `${name} differs from the schema's`);
      }
    }
    element.levelParts = items[0];
    agreeLevel(layout, schema, element, items[0], items[1], problems);
    return;
  }
  if (!schemaFits(kind, node, schema, element)) {
    problem(problems, [...element.definitionParts, "type"], "LAYOUT_SCHEMA_MISMATCH", `the property's schema does not fit a ${kind} field`);
  }
  agreeOptions(element, schema, problems);
}

function schemaFits(kind: string, node: Json, schema: JsonObject, element: Element): boolean {
  if (!isObject(node)) return false;
  const declared = node.type;
  const format = FORMAT_OF_TYPE[kind];
  if (format !== undefined) return declared === "string" && node.format === format;
  switch (kind) {
    case "SHORT_TEXT":
    case "LONG_TEXT":
    case "PHONE":
    case "FILE":
      return declared === "string";
    case "NUMBER":
      return declared === "number" || declared === "integer";
    case "INTEGER":
      return declared === "integer";
    case "CHECKBOX":
      return declared === "boolean";
    case "HIDDEN":
    case "COMPUTED":
      return declared === "string" || declared === "number" || declared === "integer" || declared === "boolean";
    case "SINGLE_CHOICE":
      return (declared === undefined || declared === "string" || declared === "number" || declared === "integer") && enumValues(node) !== null;
    case "MULTIPLE_CHOICE": {
      const items = resolve(schema, [...(element.schemaParts ?? []), "items"]);
      return declared === "array" && items !== null && enumValues(items[1]) !== null;
    }
    default:
      return false;
  }
}

function enumValues(node: Json): Json[] | null {
  const values = isObject(node) ? node.enum : undefined;
  if (!Array.isArray(values) || values.length === 0) return null;
  return values.every((value) => typeof value === "string" || isNumber(value)) ? values : null;
}

export function choiceValues(element: Element, schema: JsonObject): Json[] | null {
  if (element.type === "SINGLE_CHOICE") return enumValues(element.schema);
  const items = resolve(schema, [...(element.schemaParts ?? []), "items"]);
  return items ? enumValues(items[1]) : null;
}

function agreeOptions(element: Element, schema: JsonObject, problems: Problem[]): void {
  const options = element.raw.options ?? [];
  const where = [...element.definitionParts, "options"];
  if (!Array.isArray(options)) {
    problem(problems, where, "DEFINITION_INVALID", "options must be an array");
    return;
  }
  if (!CHOICE_TYPES.has(element.type)) {
    if (options.length > 0) problem(problems, where, "LAYOUT_OPTIONS_MISMATCH", `a ${element.type} field has no options`);
    return;
  }
  const allowed = choiceValues(element, schema);
  if (allowed === null) return;
  const values = options.map((option) => (isObject(option) ? (option.value ?? null) : null));
  const unique = values.every((a, i) => values.slice(i + 1).every((b) => !deepEqual(a, b)));
  const same = values.length === allowed.length && values.every((v) => allowed.some((a) => deepEqual(v, a)));
  if (!(unique && same)) problem(problems, where, "LAYOUT_OPTIONS_MISMATCH", "the options must be exactly the schema's enum");
}
