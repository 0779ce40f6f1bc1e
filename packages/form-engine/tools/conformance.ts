/**
 * Conformance runner: reads one JSON batch on stdin and answers it on stdout, so the Python test
 * suite can hold this module to the server engine's answers (tests/conformance/forms).
 *
 * Batch: {"evaluate": [{"definition", "answers", "locale"}], "check": [definition], "rules": [{"rule", "data"}]}
 * Answer: {"evaluate": [Evaluation | {"problems": [...]}], "check": [[Problem]], "rules": [value]}
 */
import { readFileSync } from "node:fs";
import { applyRule, checkDefinition, DefinitionError, evaluate, type Json, type JsonObject } from "../src/index.js";

interface Batch {
  evaluate?: { definition: JsonObject; answers: unknown; locale?: string }[];
  check?: unknown[];
  rules?: { rule: Json; data: Json }[];
}

const batch = JSON.parse(readFileSync(0, "utf8")) as Batch;
const answer = {
  evaluate: (batch.evaluate ?? []).map((item) => {
    try {
      return evaluate(item.definition, item.answers, item.locale ?? "en");
    } catch (error) {
      if (error instanceof DefinitionError) return { problems: error.problems };
      throw error;
    }
  }),
  check: (batch.check ?? []).map((definition) => checkDefinition(definition)),
  rules: (batch.rules ?? []).map((item) => applyRule(item.rule, item.data)),
};
process.stdout.write(JSON.stringify(answer));
