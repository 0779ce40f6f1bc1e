"""The forms engine: the portable core of the forms service.

Pure functions over the canonical proto3 JSON of ``tenantmesh.forms.v1.FormDefinition``:

* ``check_definition(definition)``: every problem, each at a JSON Pointer into the definition;
* ``evaluate(definition, answers, locale)``: visibility, required set, computed values, every
  violation at once and the answers as they would be stored;
* ``generate_definition(json_schema)``: a definition with a sensible layout for any JSON Schema;
* ``compatibility_report(previous, next)``: what a new version accepts differently.

The browser runs the same checks and evaluation (``packages/form-engine``); the conformance corpus in
``tests/conformance/forms`` holds both to the same answers.
"""

from services.forms.engine.check import check_definition
from services.forms.engine.compatibility import compatibility_report
from services.forms.engine.compiled import CompiledForm, compile_definition, content_hash
from services.forms.engine.evaluate import evaluate, evaluate_compiled
from services.forms.engine.generate import generate_definition
from services.forms.engine.model import DefinitionError, Evaluation, Problem, Reason, Violation

__all__ = [
    "CompiledForm",
    "DefinitionError",
    "Evaluation",
    "Problem",
    "Reason",
    "Violation",
    "check_definition",
    "compatibility_report",
    "compile_definition",
    "content_hash",
    "evaluate",
    "evaluate_compiled",
    "generate_definition",
]
