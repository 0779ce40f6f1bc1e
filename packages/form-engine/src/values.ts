/**
 * JSON values as both sides hold them; the TypeScript half of services/forms/engine/values.py.
 *
 * The browser reads answers with JSON.parse, so numbers are doubles already. Objects built from
 * user data are written with defineProperty so that a key such as "__proto__" stays a plain key.
 */

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** Largest integer a double holds exactly; answers beyond it are refused (numberRange). */
export const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

export function isNumber(value: unknown): value is number {
  return typeof value === "number";
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function hasOwn(object: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

/** Sets an own property, whatever its name (never the prototype through "__proto__"). */
export function setOwn(object: JsonObject, key: string, value: Json): void {
  Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
}

/** The own property ``key`` of ``object``, or undefined. */
export function getOwn(object: JsonObject, key: string): Json | undefined {
  return hasOwn(object, key) ? object[key] : undefined;
}

/** A deep copy of a JSON value. */
export function clone(value: Json): Json {
  if (Array.isArray(value)) return value.map(clone);
  if (isObject(value)) return shallowCopy(value, clone);
  return value;
}

export function shallowCopy(object: JsonObject, map: (value: Json) => Json = (value) => value): JsonObject {
  const copy: JsonObject = {};
  for (const key of Object.keys(object)) setOwn(copy, key, map(object[key] as Json));
  return copy;
}

/** Equality of JSON values: numbers by value, arrays element-wise, objects key by key; no conversions. */
export function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => deepEqual(item, b[index]));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => hasOwn(b, key) && deepEqual(a[key], b[key]));
}

export type Part = string | number;

/** RFC 6901 JSON Pointer of ``parts`` ("" is the whole document). */
export function pointer(parts: readonly Part[]): string {
  return parts.map((part) => "/" + String(part).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

/** [found, value] at ``parts`` inside ``document``. */
export function getIn(document: Json | undefined, parts: readonly Part[]): [boolean, Json] {
  let current: Json | undefined = document;
  for (const part of parts) {
    if (typeof part === "number" && Array.isArray(current) && part >= 0 && part < current.length) {
      current = current[part];
    } else if (typeof part === "string" && isObject(current) && hasOwn(current, part)) {
      current = current[part];
    } else {
      return [false, null];
    }
  }
  return [true, current ?? null];
}

/** Compares by UTF-16 code units, as JavaScript's < does (and Python's side emulates). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
