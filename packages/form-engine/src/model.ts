/** What the engine returns; the twin of services/forms/engine/model.py. */
import type { Json, JsonObject } from "./values.js";

/** Why a definition is refused (stable; see model.py for each one's meaning). */
export type Reason =
  | "DEFINITION_INVALID"
  | "SCHEMA_INVALID"
  | "SCHEMA_NOT_OBJECT"
  | "SCHEMA_KEYWORD_UNSUPPORTED"
  | "SCHEMA_FORMAT_UNSUPPORTED"
  | "SCHEMA_PATTERN_INVALID"
  | "SCHEMA_REFERENCE_INVALID"
  | "LAYOUT_KEY_INVALID"
  | "LAYOUT_DUPLICATE_KEY"
  | "LAYOUT_TYPE_INVALID"
  | "LAYOUT_WIDGET_INVALID"
  | "LAYOUT_CHILDREN_INVALID"
  | "LAYOUT_FIELD_NOT_IN_SCHEMA"
  | "LAYOUT_PROPERTY_WITHOUT_FIELD"
  | "LAYOUT_SCHEMA_MISMATCH"
  | "LAYOUT_GROUP_NOT_OBJECT"
  | "LAYOUT_REPEATING_GROUP_NOT_ARRAY_OF_OBJECTS"
  | "LAYOUT_ITEMS_MISMATCH"
  | "LAYOUT_OPTIONS_MISMATCH"
  | "LAYOUT_COMPUTE_INVALID"
  | "TEXT_LOCALE_MISSING"
  | "RULE_INVALID"
  | "RULE_UNKNOWN_OPERATOR"
  | "RULE_BANNED_OPERATOR"
  | "RULE_INVALID_ARGUMENTS"
  | "RULE_UNKNOWN_FIELD"
  | "RULE_CYCLE"
  | "CHECK_INVALID";

/** A reason a definition cannot be used, at a JSON Pointer into the definition. */
export interface Problem {
  pointer: string;
  reason: Reason;
  message: string;
}

/**
 * A way the answers fail the form, at a JSON Pointer into the answers: a JSON Schema keyword, or
 * required, unknownField, computed, numberRange, or check (with rule naming the check).
 */
export interface Violation {
  pointer: string;
  keyword: string;
  rule: string;
  message: string;
}

export interface Evaluation {
  valid: boolean;
  /** Every element instance (by JSON Pointer) and whether it is shown. */
  visible: Record<string, boolean>;
  /** The visible answers that must be given. */
  required: string[];
  /** Recomputed values (null when not computable). */
  computed: Record<string, Json>;
  violations: Violation[];
  /** What would be stored: hidden and unknown answers dropped, computed values filled in. */
  answers: JsonObject;
}

export class DefinitionError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`the form definition has ${problems.length} problem(s)`);
  }
}
