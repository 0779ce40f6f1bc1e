/**
 * @tenantmesh/form-engine: Tenantmesh forms in the browser.
 *
 * The same definition checks, rules (Tenantmesh's JSON Logic profile over json-logic-js) and answer
 * validation (Ajv2020, configured as the server's jsonschema-rs) as services/forms/engine, over the
 * canonical proto3 JSON of tenantmesh.forms.v1.FormDefinition. The conformance corpus in
 * tests/conformance/forms holds both to the same answers.
 */
export { checkDefinition } from "./check.js";
export { compileDefinition, evaluate, evaluateCompiled, type CompiledForm } from "./evaluate.js";
export { DefinitionError, type Evaluation, type Problem, type Reason, type Violation } from "./model.js";
export { apply as applyRule, OPERATORS } from "./logic.js";
export { validateDocument, type DocumentViolation } from "./document.js";
export type { Json, JsonObject } from "./values.js";
