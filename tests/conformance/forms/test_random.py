"""Random rules and random answers, evaluated by both engines: any difference is a divergence.

The corpus pins what each case must give; this explores around it. Seeded, so a failure names a
reproducible expression or answer set.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from services.forms.engine import DefinitionError, compile_definition, evaluate, evaluate_compiled
from services.forms.engine.logic import apply, compile_rule
from services.forms.engine.values import js_value
from tests.conformance.forms.corpus import evaluate_cases, same
from tests.conformance.forms.node import run_node
from tests.conformance.forms.test_node import divergence

SEED = 20261206
RULES = 3000
ANSWERS_PER_DEFINITION = 40

SCALARS: list[Any] = [
    0, 1, -1, 2, 0.5, -2.5, 1e21, 1e-7, 0.1, 9007199254740993, 123456789.12, "", "0", "1", "a", "B", "abc", "😀",
    "e\u0301", "\uffff", "2024-05-01", None, True, False,
]  # fmt: skip
BINARY = ["==", "!=", "===", "!==", "<", "<=", ">", ">=", "/", "%", "in", "-"]
VARIADIC = ["+", "*", "min", "max", "cat", "merge", "and", "or", "if"]
PATHS = ["a", "b", "c.d", "xs", "xs.0", "ys.1.k", "nope", "c"]


def random_data(rng: random.Random) -> dict[str, Any]:
    def scalar() -> Any:
        return rng.choice(SCALARS)

    return {
        "a": scalar(),
        "b": scalar(),
        "c": {"d": scalar()} if rng.random() < 0.7 else scalar(),
        "xs": [scalar() for _ in range(rng.randrange(4))],
        "ys": [{"k": scalar()} for _ in range(rng.randrange(3))],
    }


def random_rule(rng: random.Random, depth: int = 0, scope: str = "form") -> Any:
    if depth > 3 or rng.random() < 0.3:
        if rng.random() < 0.5:
            if scope == "element":
                return {"var": ""}
            if scope == "reduce":
                return {"var": rng.choice(["accumulator", "current"])}
            path = rng.choice(PATHS)
            return {"var": [path, rng.choice(SCALARS)]} if rng.random() < 0.2 else {"var": path}
        return rng.choice(SCALARS) if rng.random() < 0.9 else [rng.choice(SCALARS), rng.choice(SCALARS)]
    roll = rng.random()
    if roll < 0.35:
        op = rng.choice(BINARY)
        args = [random_rule(rng, depth + 1, scope) for _ in range(2)]
        if op in ("<", "<=") and rng.random() < 0.3:
            args.append(random_rule(rng, depth + 1, scope))
        return {op: args}
    if roll < 0.65:
        op = rng.choice(VARIADIC)
        return {op: [random_rule(rng, depth + 1, scope) for _ in range(rng.randrange(1, 4))]}
    if roll < 0.75:
        op = rng.choice(["!", "!!", "-"])
        return {op: [random_rule(rng, depth + 1, scope)]}
    if roll < 0.85:
        args = [random_rule(rng, depth + 1, scope), random_rule(rng, depth + 1, scope)]
        return {"substr": args + ([random_rule(rng, depth + 1, scope)] if rng.random() < 0.5 else [])}
    if roll < 0.93:
        op = rng.choice(["map", "filter", "all", "some", "none"])
        return {op: [{"var": rng.choice(["xs", "a", "nope"])}, random_rule(rng, depth + 1, "element")]}
    if roll < 0.97:
        return {"reduce": [{"var": "xs"}, random_rule(rng, depth + 1, "reduce"), rng.choice(SCALARS)]}
    return {"missing": rng.sample(PATHS, rng.randrange(1, 4))}


def test_random_rules_agree() -> None:
    rng = random.Random(SEED)
    work = [{"rule": random_rule(rng), "data": random_data(rng)} for _ in range(RULES)]
    node = run_node({"rules": work})["rules"]
    differ = [
        (item, python, theirs)
        for item, theirs in zip(work, node, strict=True)
        if not same(python := apply(js_value(item["rule"]), js_value(item["data"])), theirs)
    ]
    assert differ == [], json.dumps(differ[:5], ensure_ascii=False)


def _outcome(run: Callable[..., Any], *args: Any) -> str:
    """What ``run(*args)`` gives, as text that tells 1 from 1.0 and true from 1, or what it raises."""
    try:
        return json.dumps(run(*args), sort_keys=True)
    except Exception as error:
        return f"raised {type(error).__name__}: {error}"


def test_compiled_rules_give_what_the_interpreter_gives() -> None:
    """A compiled rule (what a compiled form runs) against the library's walk (what the corpus
    pins against the browser), on the random rules and data above, many times over."""
    rng = random.Random(SEED + 1)
    differ = []
    for _ in range(RULES * 3):
        rule, data = js_value(random_rule(rng)), js_value(random_data(rng))
        program = compile_rule(rule)
        interpreted, compiled = _outcome(apply, rule, data), _outcome(program, data)
        if interpreted != compiled:
            differ.append({"rule": rule, "data": data, "interpreted": interpreted, "compiled": compiled})
    assert differ == [], json.dumps(differ[:5], ensure_ascii=False)


def test_compiled_rules_outside_the_profile_run_as_the_library_would() -> None:
    """Definitions are checked first, so these never run in a form; if one did, it would not change."""
    data = {"a": 2, "xs": [1, 2, 3]}
    for rule in [
        {"log": [1]},
        {"?:": [True, 1, 2]},
        {"and": []},
        {"or": []},
        {"if": []},
        {"if": [False, 1]},
        {"filter": [{"var": "xs"}]},
        {"map": [{"var": "xs"}]},
        {"map": []},
        {"reduce": [{"var": "xs"}]},
        {"reduce": []},
        {"all": [{"var": "xs"}]},
        {"all": [[], {"var": ""}]},
        {"some": [{"var": "xs"}]},
        {"none": [{"var": "xs"}]},
        {"none": [{"var": "a"}, True]},
        {"a": 1, "b": 2},
        [{"var": "a"}, {"+": [{"var": "a"}, 1]}],
        {"missing": [["a", "b"]]},
        {"var": [{"cat": ["x", "s"]}, 0]},
    ]:
        assert _outcome(compile_rule(rule), data) == _outcome(apply, rule, data), rule


def test_answers_evaluated_in_place_give_the_same_evaluation() -> None:
    """``owned`` answers (read from a Struct: numbers already as a browser holds them) skip only the copy."""
    rng = random.Random(SEED + 2)
    for case in evaluate_cases():
        try:
            compiled = compile_definition(case.definition)
        except DefinitionError:
            continue  # a case of a definition with problems: nothing to evaluate
        for _ in range(5):
            answers = js_value(random_answers(rng, case.given))
            if not isinstance(answers, dict):
                continue
            copied = evaluate_compiled(compiled, js_value(answers), case.locale).as_json()
            in_place = evaluate_compiled(compiled, answers, case.locale, owned=True)
            assert in_place.as_json() == copied
            assert in_place.answers is answers


# -- random answers on the corpus's definitions --------------------------------------------------------


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.7 or depth > 1:
        return rng.choice(
            [*SCALARS, "ada@example.com", "2024-02-29", "14:30:00Z", "https://x.test", "s", "m", "cheese", 3, 5]
        )
    if roll < 0.85:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {key: random_value(rng, depth + 1) for key in rng.sample(["sku", "qty", "price", "ref", "lines", "x"], 3)}


def random_answers(rng: random.Random, sample: Any) -> Any:
    """A mutation of a corpus answer set: values replaced, removed or added at random, recursively."""
    if isinstance(sample, dict):
        result = {}
        for key, value in sample.items():
            roll = rng.random()
            if roll < 0.15:
                continue
            result[key] = random_answers(rng, value) if roll < 0.7 else random_value(rng)
        if rng.random() < 0.1:
            result[rng.choice(["extra", "qty", "lines", "ref", "rush"])] = random_value(rng)
        return result
    if isinstance(sample, list):
        items = [random_answers(rng, item) for item in sample if rng.random() < 0.85]
        if items and rng.random() < 0.3:
            items.append(random_answers(rng, rng.choice(sample)))
        return items
    return sample if rng.random() < 0.5 else random_value(rng)


def test_random_answers_agree() -> None:
    rng = random.Random(SEED)
    by_definition: dict[str, tuple[dict[str, Any], list[Any]]] = {}
    for case in evaluate_cases():
        key = json.dumps(case.definition, sort_keys=True)
        by_definition.setdefault(key, (case.definition, []))[1].append(case.given)
    work = []
    for definition, samples in by_definition.values():
        for _ in range(ANSWERS_PER_DEFINITION):
            answers = random_answers(rng, rng.choice(samples))
            work.append({"definition": definition, "answers": answers, "locale": rng.choice(["en", "id", "fr"])})
    node = run_node({"evaluate": work})["evaluate"]
    differ = []
    for item, theirs in zip(work, node, strict=True):
        ours = evaluate(item["definition"], item["answers"], item["locale"]).as_json()
        if found := divergence(ours, theirs):
            differ.append({"answers": item["answers"], "differences": found})
    assert differ == [], json.dumps(differ[:3], ensure_ascii=False)[:4000]
