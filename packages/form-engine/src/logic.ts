/**
 * Tenantmesh's JSON Logic profile over json-logic-js; the twin of services/forms/engine/logic.py
 * (read its docstring for the definitions). json-logic-js walks expressions and runs the control and
 * array forms; every other allowed operator is redefined here, identically to the Python side.
 *
 * json-logic-js keeps one operator table per page: importing this module installs the profile there.
 */
import jsonLogic from "json-logic-js";
import { deepEqual, hasOwn, isNumber, isObject, type Json } from "./values.js";

/** Operators a rule may use, with their fewest and most arguments (null: no limit). */
export const OPERATORS: Readonly<Record<string, readonly [number, number | null]>> = {
  var: [1, 2],
  missing: [1, null],
  missing_some: [2, 2],
  if: [1, null],
  and: [1, null],
  or: [1, null],
  "!": [1, 1],
  "!!": [1, 1],
  "==": [2, 2],
  "!=": [2, 2],
  "===": [2, 2],
  "!==": [2, 2],
  "<": [2, 3],
  "<=": [2, 3],
  ">": [2, 3],
  ">=": [2, 3],
  "+": [1, null],
  "-": [1, 2],
  "*": [1, null],
  "/": [2, 2],
  "%": [2, 2],
  min: [1, null],
  max: [1, null],
  cat: [1, null],
  substr: [2, 3],
  in: [2, 2],
  merge: [1, null],
  map: [2, 2],
  filter: [2, 2],
  reduce: [2, 3],
  all: [2, 2],
  some: [2, 2],
  none: [2, 2],
};
export const BANNED_OPERATORS: ReadonlySet<string> = new Set(["log", "?:"]);
export const ARRAY_OPERATORS: ReadonlySet<string> = new Set(["map", "filter", "reduce", "all", "some", "none"]);

export function truthy(value: unknown): boolean {
  return jsonLogic.truthy(value);
}

function finite(value: number): Json {
  if (!Number.isFinite(value)) return null;
  return value === 0 ? 0 : value; // -0 prints as 0 anyway; keep one zero
}

function numbers(args: readonly unknown[]): number[] | null {
  return args.every(isNumber) ? (args as number[]) : null;
}

const CANONICAL_INDEX = /^(0|[1-9][0-9]*)$/;

function readVar(data: unknown, path: unknown, fallback: unknown): unknown {
  if (path === null || path === undefined || path === "") return data;
  if (isNumber(path)) path = String(path);
  if (typeof path !== "string") return fallback;
  let current: unknown = data;
  for (const segment of path.split(".")) {
    if (isObject(current)) {
      if (!hasOwn(current, segment)) return fallback;
      current = current[segment];
    } else if (Array.isArray(current)) {
      if (!CANONICAL_INDEX.test(segment) || Number(segment) >= current.length) return fallback;
      current = current[Number(segment)];
    } else {
      return fallback;
    }
  }
  return current === null || current === undefined ? fallback : current;
}

function isMissing(value: unknown): boolean {
  return value === null || value === "" || (Array.isArray(value) && value.length === 0);
}

function missing(data: unknown, args: readonly unknown[]): unknown[] {
  const keys = args.length > 0 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  return keys.filter((key) => isMissing(readVar(data, key, null)));
}

function order(a: unknown, b: unknown): number | null {
  if (isNumber(a) && isNumber(b)) return a > b ? 1 : a < b ? -1 : 0;
  if (typeof a === "string" && typeof b === "string") return a > b ? 1 : a < b ? -1 : 0;
  return null;
}

function comparison(accept: (order: number) => boolean) {
  return function (...args: unknown[]): boolean {
    const pairs = args.length < 3 ? [[args[0], args[1]]] : [[args[0], args[1]], [args[1], args[2]]];
    return pairs.every(([left, right]) => {
      const result = order(left, right);
      return result !== null && accept(result);
    });
  };
}

/** How cat prints a value: null as "", arrays joined with ",", objects as "[object Object]". */
export function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (isNumber(value)) return String(value);
  if (Array.isArray(value)) return value.map(textOf).join(",");
  return "[object Object]";
}

function extreme(pick: (values: number[]) => number) {
  return (...args: unknown[]): Json => {
    const values = numbers(args);
    return values && values.length > 0 ? finite(pick(values)) : null;
  };
}

const OPERATIONS: Record<string, (...args: never[]) => unknown> = {
  var: function (this: unknown, ...args: unknown[]) {
    return readVar(this, args[0], args.length > 1 ? args[1] : null);
  },
  missing: function (this: unknown, ...args: unknown[]) {
    return missing(this, args);
  },
  missing_some: function (this: unknown, need: unknown, keys: unknown) {
    if (!isNumber(need) || !Array.isArray(keys)) return [];
    const absent = missing(this, [keys]);
    return keys.length - absent.length >= need ? [] : absent;
  },
  "!": (value: unknown) => !truthy(value),
  "!!": (value: unknown) => truthy(value),
  "==": (a: Json, b: Json) => deepEqual(a, b),
  "===": (a: Json, b: Json) => deepEqual(a, b),
  "!=": (a: Json, b: Json) => !deepEqual(a, b),
  "!==": (a: Json, b: Json) => !deepEqual(a, b),
  "<": comparison((o) => o < 0),
  "<=": comparison((o) => o <= 0),
  ">": comparison((o) => o > 0),
  ">=": comparison((o) => o >= 0),
  "+": (...args: unknown[]) => {
    const values = numbers(args);
    if (!values || values.length === 0) return null;
    let total = 0;
    for (const value of values) total += value;
    return finite(total);
  },
  "*": (...args: unknown[]) => {
    const values = numbers(args);
    if (!values || values.length === 0) return null;
    let product = 1;
    for (const value of values) product *= value;
    return finite(product);
  },
  "-": (...args: unknown[]) => {
    const values = numbers(args.length < 2 ? [args[0]] : [args[0], args[1]]);
    if (!values) return null;
    return finite(values.length === 1 ? -(values[0] as number) : (values[0] as number) - (values[1] as number));
  },
  "/": (a: unknown, b: unknown) => (isNumber(a) && isNumber(b) && b !== 0 ? finite(a / b) : null),
  "%": (a: unknown, b: unknown) => (isNumber(a) && isNumber(b) && b !== 0 ? finite(a % b) : null),
  min: extreme((values) => Math.min(...values)),
  max: extreme((values) => Math.max(...values)),
  cat: (...args: unknown[]) => args.map(textOf).join(""),
  substr: (...args: unknown[]) => {
    const [source, start, length] = args;
    const text = Array.from(textOf(source)); // code points, as Python indexes strings
    const size = text.length;
    if (!isNumber(start) || (args.length > 2 && !isNumber(length))) return null;
    let begin = Math.trunc(start);
    begin = begin < 0 ? Math.max(0, size + begin) : Math.min(begin, size);
    let end = size;
    if (args.length > 2) {
      const count = Math.trunc(length as number);
      end = count < 0 ? Math.max(begin, size + count) : Math.min(size, begin + count);
    }
    return text.slice(begin, end).join("");
  },
  in: (needle: unknown, haystack: unknown) => {
    if (Array.isArray(haystack)) return haystack.some((item: Json) => deepEqual(needle as Json, item));
    if (typeof haystack === "string") return typeof needle === "string" && haystack.includes(needle);
    return false;
  },
  merge: (...args: unknown[]) => {
    const merged: unknown[] = [];
    for (const arg of args) {
      if (Array.isArray(arg)) merged.push(...(arg as unknown[]));
      else merged.push(arg);
    }
    return merged;
  },
};

jsonLogic.rm_operation("log");
for (const [name, operation] of Object.entries(OPERATIONS)) {
  jsonLogic.add_operation(name, operation as (...args: unknown[]) => unknown);
}

/** The value of ``rule`` (a checked expression) over ``data``. */
export function apply(rule: Json, data: Json): Json {
  const result = jsonLogic.apply(rule as never, data) as Json | undefined;
  return result ?? null;
}
