/** evaluate: the answers against a definition; the twin of services/forms/engine/evaluate.py (read its steps). */
import { analyzeDefinition, checkTarget } from "./check.js";
import { LEVEL_TYPES, type Element, type Layout } from "./layout.js";
import { apply, truthy } from "./logic.js";
import { message, pick } from "./messages.js";
import { DefinitionError, type Evaluation, type Violation } from "./model.js";
import type { Node } from "./rules.js";
import { compileValidator, relaxed, schemaErrors } from "./schema.js";
import type { ValidateFunction } from "ajv/dist/2020.js";
import {
  clone,
  deepEqual,
  getIn,
  getOwn,
  isNumber,
  isObject,
  MAX_SAFE_INTEGER,
  pointer,
  setOwn,
  shallowCopy,
  type Json,
  type JsonObject,
  type Part,
} from "./values.js";

type Rows = readonly number[];

interface CompiledCheck {
  id: string;
  rule: Json;
  message: Json | undefined;
  target: Element | null;
}

/** A checked definition ready to evaluate (see compileDefinition). */
export interface CompiledForm {
  layout: Layout;
  order: Node[];
  validate: ValidateFunction;
  checks: CompiledCheck[];
  defaultLocale: string;
  valueElements: Element[];
}

const CACHE_SIZE = 64;
const byObject = new WeakMap<object, CompiledForm>();
const byText = new Map<string, CompiledForm>();

/** The compiled form of ``definition`` (cached); throws DefinitionError listing its problems. */
export function compileDefinition(definition: JsonObject): CompiledForm {
  const known = byObject.get(definition);
  if (known) return known;
  const text = JSON.stringify(definition);
  let compiled = byText.get(text);
  if (!compiled) {
    const checked = analyzeDefinition(definition);
    if (checked.problems.length > 0) throw new DefinitionError(checked.problems);
    const layout = checked.layout;
    const levels: [Part[], Set<string>][] = [];
    for (const level of [null, ...layout.elements.filter((e) => LEVEL_TYPES.has(e.type))]) {
      const parts = level === null ? [] : level.levelParts;
      if (parts !== null) levels.push([parts, new Set(layout.answerChildren(level).map((child) => child.key))]);
    }
    const checks = ((checked.definition.checks ?? []) as JsonObject[]).map((check) => ({
      id: check.id as string,
      rule: check.rule as Json,
      message: check.message,
      target: checkTarget(check, layout) || null,
    }));
    compiled = {
      layout,
      order: checked.order,
      validate: compileValidator(relaxed(checked.schema, levels)),
      checks,
      defaultLocale: checked.defaultLocale,
      valueElements: layout.elements.filter((element) => element.isValue),
    };
    byText.set(text, compiled);
    if (byText.size > CACHE_SIZE) byText.delete(byText.keys().next().value as string);
  }
  byObject.set(definition, compiled);
  return compiled;
}

/** Evaluates ``answers`` against ``definition`` (throws DefinitionError if it has problems). */
export function evaluate(definition: JsonObject, answers: unknown, locale = "en"): Evaluation {
  return evaluateCompiled(compileDefinition(definition), answers, locale);
}

export function evaluateCompiled(form: CompiledForm, answers: unknown, locale = "en"): Evaluation {
  return new Run(form, locale).run(answers);
}

class Run {
  private readonly layout: Layout;
  private readonly violations: Violation[] = [];
  private readonly visible = new Map<Element, Map<string, boolean>>();
  private readonly computed: [Element, Rows, Json][] = [];

  constructor(
    private readonly form: CompiledForm,
    private readonly locale: string,
  ) {
    this.layout = form.layout;
  }

  private violation(where: Part[] | string, keyword: string, rule = "", text = ""): void {
    this.violations.push({
      pointer: typeof where === "string" ? where : pointer(where),
      keyword,
      rule,
      message: text || message(keyword, this.locale),
    });
  }

  private shown(element: Element, rows: Rows): boolean | undefined {
    return this.visible.get(element)?.get(rows.join(","));
  }

  run(input: unknown): Evaluation {
    let answers: Json = input as Json;
    if (!isObject(answers)) {
      this.violation("", "type");
      answers = {};
    }
    const data = clone(answers) as JsonObject;
    this.normalize(null, data, []);
    const submitted = clone(data);
    for (const node of this.form.order) {
      if (node.kind === "visible") this.visibility(node.element, data, true);
      else if (node.element.type !== "GROUP" && node.element.type !== "REPEATING_GROUP") this.visibility(node.element, data, false);
    }
    const required = this.required(data);
    this.computedMismatches(submitted);
    for (const [where, keyword] of schemaErrors(this.form.validate, data)) this.violation(where, keyword);
    this.checks(data);
    this.numberRange(data, []);
    const seen = new Set<string>();
    const violations = this.violations
      .filter((v) => {
        const key = `${v.pointer}\u0000${v.keyword}\u0000${v.rule}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .sort((a, b) => compare(a.pointer, b.pointer) || compare(a.keyword, b.keyword) || compare(a.rule, b.rule));
    const visible: Record<string, boolean> = {};
    for (const [element, byRows] of this.visible) {
      for (const [key, shown] of byRows) visible[pointer(element.pointerParts(rowsOf(key)))] = shown;
    }
    const computed: Record<string, Json> = {};
    for (const [element, rows, value] of this.computed) computed[pointer(element.pointerParts(rows))] = value;
    return { valid: violations.length === 0, visible, required, computed, violations, answers: data };
  }

  // -- 1. normalisation ------------------------------------------------------------------------------------

  private normalize(level: Element | null, answers: JsonObject, parts: Part[]): void {
    const members = this.layout.members.get(level);
    for (const key of Object.keys(answers)) {
      const element = members?.get(key);
      const value = answers[key] as Json;
      if (element === undefined || !element.isValue) {
        this.violation([...parts, key], "unknownField");
        delete answers[key];
      } else if (value === null || value === "") {
        delete answers[key];
      } else if (element.type === "GROUP" && isObject(value)) {
        this.normalize(element, value, [...parts, key]);
      } else if (element.type === "REPEATING_GROUP" && Array.isArray(value)) {
        value.forEach((item, index) => {
          if (isObject(item)) this.normalize(element, item, [...parts, key, index]);
        });
      }
    }
  }

  // -- 2. visibility and computed values ----------------------------------------------------------------

  private visibility(element: Element, data: JsonObject, container: boolean): void {
    const rule = element.rule("visibleWhen");
    let byRows = this.visible.get(element);
    if (!byRows) this.visible.set(element, (byRows = new Map<string, boolean>()));
    for (const rows of this.instances(element, data)) {
      const shown = this.parentVisible(element, rows) && (rule === undefined || truthy(apply(rule, view(data, element, rows))));
      byRows.set(rows.join(","), shown);
      if (!shown) {
        if (element.isValue) remove(data, element, rows);
      } else if (!container && element.type === "COMPUTED") {
        const value = apply(element.rule("compute") as Json, view(data, element, rows));
        this.computed.push([element, rows, value]);
        store(data, element, rows, value);
      }
    }
  }

  private parentVisible(element: Element, rows: Rows): boolean {
    const parent = element.parent;
    if (parent === null) return true;
    return this.shown(parent, rows.slice(0, parent.repeats.length)) ?? false;
  }

  private instances(element: Element, data: JsonObject): Rows[] {
    let instances: Rows[] = [[]];
    for (const group of element.repeats) {
      const expanded: Rows[] = [];
      for (const rows of instances) {
        const items = valueOf(data, group, rows);
        if (Array.isArray(items)) for (let index = 0; index < items.length; index += 1) expanded.push([...rows, index]);
      }
      instances = expanded;
    }
    return instances;
  }

  // -- 3. required ----------------------------------------------------------------------------------------

  private required(data: JsonObject): string[] {
    const required: string[] = [];
    for (const element of this.form.valueElements) {
      const rule = element.rule("requiredWhen");
      if (!element.requiredBySchema && rule === undefined) continue;
      for (const rows of this.instances(element, data)) {
        if (!this.shown(element, rows) || !isObject(holder(data, element, rows))) continue;
        if (element.requiredBySchema || truthy(apply(rule as Json, view(data, element, rows)))) {
          const parts = element.pointerParts(rows);
          required.push(pointer(parts));
          const [found, value] = getIn(data, parts);
          if (!found || (Array.isArray(value) && value.length === 0)) this.violation(parts, "required");
        }
      }
    }
    return required;
  }

  // -- 4. computed values as submitted -------------------------------------------------------------------

  private computedMismatches(submitted: Json): void {
    for (const [element, rows, value] of this.computed) {
      const parts = element.pointerParts(rows);
      const [found, given] = getIn(submitted, parts);
      if (found && !deepEqual(given, value)) this.violation(parts, "computed");
    }
  }

  // -- 5. checks and number range ---------------------------------------------------------------------------

  private checks(data: JsonObject): void {
    for (const check of this.form.checks) {
      const target = check.target;
      const instances = target !== null ? this.instances(target, data) : [[]];
      for (const rows of instances) {
        // Hidden, or in an item that is not an object (the schema reports that).
        if (target !== null && !(this.shown(target, rows) === true && isObject(holder(data, target, rows)))) continue;
        const seen = target !== null ? view(data, target, rows) : data;
        if (!truthy(apply(check.rule, seen))) {
          const where = target !== null ? pointer(target.pointerParts(rows)) : "";
          const text = pick(check.message, this.locale, this.form.defaultLocale) || message("check", this.locale);
          this.violation(where, "check", check.id, text);
        }
      }
    }
  }

  private numberRange(value: Json, parts: Part[]): void {
    if (isNumber(value) && Math.abs(value) > MAX_SAFE_INTEGER) this.violation(parts, "numberRange");
    else if (Array.isArray(value)) value.forEach((item, index) => { this.numberRange(item, [...parts, index]); });
    else if (isObject(value)) for (const key of Object.keys(value)) this.numberRange(value[key] as Json, [...parts, key]);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function rowsOf(key: string): number[] {
  return key === "" ? [] : key.split(",").map(Number);
}

// -- navigating the answers -----------------------------------------------------------------------------------

/** The object that holds ``element``'s answer (undefined when it does not exist). */
function holder(data: JsonObject, element: Element, rows: Rows): Json | undefined {
  let current: Json | undefined = data;
  let row = 0;
  for (const level of element.levels) {
    current = isObject(current) ? getOwn(current, level.key) : undefined;
    if (level.type === "REPEATING_GROUP") {
      const index = rows[row++] ?? 0;
      current = Array.isArray(current) && index < current.length ? current[index] : undefined;
    }
  }
  return current;
}

function valueOf(data: JsonObject, element: Element, rows: Rows): Json | undefined {
  const found = holder(data, element, rows);
  return isObject(found) ? getOwn(found, element.key) : undefined;
}

function remove(data: JsonObject, element: Element, rows: Rows): void {
  const found = holder(data, element, rows);
  if (isObject(found)) delete found[element.key];
}

function store(data: JsonObject, element: Element, rows: Rows, computed: Json): void {
  const value = computed === "" ? null : computed; // not stored, as it would not be if submitted
  let current: Json | undefined = data;
  let row = 0;
  for (const level of element.levels) {
    if (!isObject(current)) return;
    if (level.type === "GROUP") {
      if (value !== null && getOwn(current, level.key) === undefined) setOwn(current, level.key, {});
      current = getOwn(current, level.key);
    } else {
      const items = getOwn(current, level.key);
      const index = rows[row++] ?? 0;
      current = Array.isArray(items) && index < items.length ? items[index] : undefined;
    }
  }
  if (!isObject(current)) return;
  if (value === null) delete current[element.key];
  else setOwn(current, element.key, value);
}

/** The data a rule of ``element`` sees: each enclosing repeating group replaced by its current item. */
function view(data: JsonObject, element: Element, rows: Rows): Json {
  if (rows.length === 0) return data;
  const innermost = element.repeats[element.repeats.length - 1] as Element;
  const result = shallowCopy(data);
  let current = result;
  let row = 0;
  for (const level of [...innermost.levels, innermost]) {
    let value: Json | undefined = getOwn(current, level.key);
    if (level.type === "REPEATING_GROUP") {
      const index = rows[row++] ?? 0;
      value = Array.isArray(value) && index < value.length ? value[index] : undefined;
    }
    if (level === innermost || !isObject(value)) {
      setOwn(current, level.key, value ?? null);
      return result;
    }
    const copied = shallowCopy(value);
    setOwn(current, level.key, copied);
    current = copied;
  }
  return result;
}
