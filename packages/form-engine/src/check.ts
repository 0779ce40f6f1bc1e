/** checkDefinition: every reason a definition cannot be used; the twin of services/forms/engine/check.py. */
import { FORMATS } from "./formats.js";
import { agreeWithSchema, Element, LOCALIZED_FIELD_TEXTS, parseLayout, WIDGETS, type Layout } from "./layout.js";
import type { Problem, Reason } from "./model.js";
import { evaluationOrder, formScope, RuleAnalysis, type Node } from "./rules.js";
import { DIALECT, KEYWORDS, metaErrors, patternCompiles, referenceParts, resolve, subschemas } from "./schema.js";
import { isObject, pointer, type Json, type JsonObject, type Part } from "./values.js";

const LOCALE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const CHECK_ID = /^[a-z][a-z0-9_-]{0,62}$/;

export interface Checked {
  definition: JsonObject;
  schema: JsonObject;
  layout: Layout;
  order: Node[];
  defaultLocale: string;
  problems: Problem[];
}

function add(problems: Problem[], parts: readonly Part[], reason: Reason, message: string): void {
  problems.push({ pointer: pointer(parts), reason, message });
}

/** Every problem of ``definition`` (the canonical JSON of a FormDefinition), sorted by pointer. */
export function checkDefinition(definition: unknown): Problem[] {
  return analyzeDefinition(definition).problems;
}

export function analyzeDefinition(input: unknown): Checked {
  const problems: Problem[] = [];
  let definition: JsonObject = {};
  if (isObject(input)) definition = input;
  else add(problems, [], "DEFINITION_INVALID", "a definition is a JSON object");
  let schema: JsonObject = {};
  if (isObject(definition.schema)) schema = definition.schema;
  else add(problems, ["schema"], "DEFINITION_INVALID", "schema must be a JSON Schema object");
  let defaultLocale: Json = definition.defaultLocale ?? "";
  if (defaultLocale === "") defaultLocale = "en";
  if (typeof defaultLocale !== "string" || !LOCALE.test(defaultLocale)) {
    add(problems, ["defaultLocale"], "DEFINITION_INVALID", "not a BCP 47 language tag");
    defaultLocale = "en";
  }
  const schemaOk = checkSchema(schema, problems);
  const layout = parseLayout(definition, problems);
  if (schemaOk) agreeWithSchema(layout, schema, problems);
  const texts = new Texts(defaultLocale, problems);
  for (const name of ["title", "description"]) texts.check(definition[name], [name]);
  const analysis = new RuleAnalysis(layout, problems);
  const reads = new Map<Element, Set<Element>>();
  for (const element of layout.elements) {
    checkField(element, texts, problems);
    reads.set(element, fieldRules(element, analysis));
  }
  checkChecks(definition.checks ?? [], layout, analysis, texts, problems);
  const order = evaluationOrder(layout, reads, problems);
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.pointer}\u0000${p.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  unique.sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
  return { definition, schema, layout, order, defaultLocale, problems: unique };
}

function checkSchema(schema: JsonObject, problems: Problem[]): boolean {
  const before = problems.length;
  if ("$schema" in schema && schema.$schema !== DIALECT) {
    add(problems, ["schema", "$schema"], "SCHEMA_INVALID", `only ${DIALECT} is supported`);
    return false; // the rest would be judged by the wrong rules
  }
  for (const [where, message] of metaErrors(schema)) {
    problems.push({ pointer: "/schema" + where, reason: "SCHEMA_INVALID", message });
  }
  if (problems.length > before) return false;
  for (const [parts, node] of subschemas(schema, [])) {
    if (!isObject(node)) continue;
    for (const keyword of Object.keys(node)) {
      if (!KEYWORDS.has(keyword)) {
        add(problems, ["schema", ...parts, keyword], "SCHEMA_KEYWORD_UNSUPPORTED", `keyword '${keyword}' is not supported in forms`);
      }
    }
    if ("format" in node && !(typeof node.format === "string" && Object.prototype.hasOwnProperty.call(FORMATS, node.format))) {
      add(problems, ["schema", ...parts, "format"], "SCHEMA_FORMAT_UNSUPPORTED", `format ${JSON.stringify(node.format)} is not supported`);
    }
    if (typeof node.pattern === "string" && !patternCompiles(node.pattern)) {
      add(problems, ["schema", ...parts, "pattern"], "SCHEMA_PATTERN_INVALID", "not a valid regular expression");
    }
    if (typeof node.$ref === "string") {
      if (referenceParts(node.$ref) === null || resolve(schema, [...parts]) === null) {
        add(problems, ["schema", ...parts, "$ref"], "SCHEMA_REFERENCE_INVALID", "references must resolve inside the document");
      }
    }
  }
  return true; // usable, even if some of it is refused: the layout is still compared with it
}

class Texts {
  constructor(
    readonly defaultLocale: string,
    readonly problems: Problem[],
  ) {}

  check(texts: Json | undefined, parts: readonly Part[]): void {
    if (texts === undefined || texts === null) return;
    if (!isObject(texts) || !Object.entries(texts).every(([tag, text]) => LOCALE.test(tag) && typeof text === "string")) {
      add(this.problems, parts, "DEFINITION_INVALID", "texts map locales to strings");
      return;
    }
    if (Object.keys(texts).length > 0 && !Object.prototype.hasOwnProperty.call(texts, this.defaultLocale)) {
      add(this.problems, parts, "TEXT_LOCALE_MISSING", `no text in the default locale '${this.defaultLocale}'`);
    }
  }
}

function checkField(element: Element, texts: Texts, problems: Problem[]): void {
  const here = element.definitionParts;
  for (const name of LOCALIZED_FIELD_TEXTS) texts.check(element.raw[name], [...here, name]);
  const options = element.raw.options;
  if (Array.isArray(options)) {
    options.forEach((option, index) => {
      if (isObject(option)) texts.check(option.label, [...here, "options", index, "label"]);
    });
  }
  const widget = element.raw.widget;
  if (widget !== undefined && widget !== null && widget !== "WIDGET_UNSPECIFIED") {
    const name = typeof widget === "string" ? widget.replace(/^WIDGET_/, "") : "";
    if (!(WIDGETS[element.type]?.has(name) ?? false)) {
      add(problems, [...here, "widget"], "LAYOUT_WIDGET_INVALID", `a ${element.type} field does not take widget ${JSON.stringify(widget)}`);
    }
  }
  if (element.type !== "REPEATING_GROUP") {
    for (const name of ["minItems", "maxItems"]) {
      if (name in element.raw) add(problems, [...here, name], "LAYOUT_ITEMS_MISMATCH", `only repeating groups have ${name}`);
    }
  }
  const hasCompute = element.rule("compute") !== undefined;
  if (element.type === "COMPUTED" && !hasCompute) add(problems, here, "LAYOUT_COMPUTE_INVALID", "a COMPUTED field needs compute");
  if (element.type !== "COMPUTED" && hasCompute) add(problems, [...here, "compute"], "LAYOUT_COMPUTE_INVALID", "only COMPUTED fields compute");
  if (!element.isValue && element.rule("requiredWhen") !== undefined) {
    add(problems, [...here, "requiredWhen"], "RULE_INVALID", `a ${element.type} holds no answer to require`);
  }
}

function fieldRules(element: Element, analysis: RuleAnalysis): Set<Element> {
  const scope = formScope(element);
  const reads = new Set<Element>();
  for (const name of ["visibleWhen", "compute"]) {
    const rule = element.rule(name);
    if (rule !== undefined) for (const read of analysis.analyze(rule, scope, [...element.definitionParts, name])) reads.add(read);
  }
  const requiredWhen = element.rule("requiredWhen");
  if (requiredWhen !== undefined) analysis.analyze(requiredWhen, scope, [...element.definitionParts, "requiredWhen"]);
  return reads;
}

function checkChecks(checks: Json, layout: Layout, analysis: RuleAnalysis, texts: Texts, problems: Problem[]): void {
  if (!Array.isArray(checks)) {
    add(problems, ["checks"], "DEFINITION_INVALID", "checks must be an array");
    return;
  }
  const seen = new Set<string>();
  checks.forEach((check, index) => {
    const here = ["checks", index];
    if (!isObject(check)) {
      add(problems, here, "DEFINITION_INVALID", "a check is an object");
      return;
    }
    const id = check.id;
    if (typeof id !== "string" || !CHECK_ID.test(id) || seen.has(id)) add(problems, [...here, "id"], "CHECK_INVALID", "a check needs a unique id");
    else seen.add(id);
    const target = checkTarget(check, layout);
    if (target === false) {
      add(problems, [...here, "field"], "CHECK_INVALID", "no such field");
      return;
    }
    const rule = check.rule;
    if (rule === undefined || rule === null) add(problems, [...here, "rule"], "CHECK_INVALID", "a check needs a rule");
    else analysis.analyze(rule, formScope(target), [...here, "rule"]);
    texts.check(check.message, [...here, "message"]);
  });
}

/** The field a check reports at: null for the form as a whole, false when there is no such field. */
export function checkTarget(check: JsonObject, layout: Layout): Element | null | false {
  const name = check.field ?? "";
  if (name === "") return null;
  const element = typeof name === "string" ? layout.byPath.get(name) : undefined;
  if (element === undefined || !element.isValue) return false;
  return element;
}
