"""Tenantmesh's JSON Logic profile: the pinned operator set, evaluated by the ``json_logic`` port.

The port walks the expression and runs the control and array forms (``if``, ``and``, ``or``, ``map``,
``filter``, ``reduce``, ``all``, ``some``, ``none``), exactly as json-logic-js does in the browser. Every
other allowed operator is redefined here, and identically in ``packages/form-engine/src/logic.ts``,
because the libraries disagree on them (``0 == ""``, null arithmetic, division by zero, the sign of
``%``, ``max`` of nothing, ``cat`` of null, ``substr`` on emoji, ``var`` defaults). The definitions:

* No implicit conversions. ``==``/``===`` compare JSON values (numbers by value, arrays and objects
  deeply); ``<``/``<=``/``>``/``>=`` order two numbers or two strings (by UTF-16 code units, as
  JavaScript does) and are false for anything else, so a rule over a missing value is false.
* Arithmetic takes numbers only; any other operand, a division or remainder by zero, or a result
  that is not finite gives null (the value "not computable"). ``%`` keeps the dividend's sign.
* ``cat`` prints null as "", numbers as JavaScript does; ``substr`` counts Unicode code points.
* ``var`` reads own properties and array indices only; a missing or null value gives the default.
* ``missing`` counts absent, null, "" and [] as missing (as required fields do).

Operators outside ``OPERATORS`` are refused when a definition is checked (``log`` and ``?:`` by name),
as are ``and``/``or`` without arguments and a ``reduce`` whose initial value is not a literal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from json_logic import jsonLogic as library_apply  # type: ignore[import-untyped]  # noqa: N813
from json_logic.builtins import not_, to_bool  # type: ignore[import-untyped]

from services.forms.engine.values import JSON, deep_equal, is_number, js_number, js_string, utf16_key

# Operators a rule may use, with their fewest and most arguments (None: no limit).
OPERATORS: Final[dict[str, tuple[int, int | None]]] = {
    "var": (1, 2),
    "missing": (1, None),
    "missing_some": (2, 2),
    "if": (1, None),
    "and": (1, None),
    "or": (1, None),
    "!": (1, 1),
    "!!": (1, 1),
    "==": (2, 2),
    "!=": (2, 2),
    "===": (2, 2),
    "!==": (2, 2),
    "<": (2, 3),
    "<=": (2, 3),
    ">": (2, 3),
    ">=": (2, 3),
    "+": (1, None),
    "-": (1, 2),
    "*": (1, None),
    "/": (2, 2),
    "%": (2, 2),
    "min": (1, None),
    "max": (1, None),
    "cat": (1, None),
    "substr": (2, 3),
    "in": (2, 2),
    "merge": (1, None),
    "map": (2, 2),
    "filter": (2, 2),
    "reduce": (2, 3),
    "all": (2, 2),
    "some": (2, 2),
    "none": (2, 2),
}
# Known to the libraries but refused: side effects (log) and an alias with a second spelling (?:).
BANNED_OPERATORS: Final = frozenset({"log", "?:"})
# Array operators: the second argument runs once per element, with the element as its data.
ARRAY_OPERATORS: Final = frozenset({"map", "filter", "reduce", "all", "some", "none"})

_ABSENT: Final = object()


def truthy(value: JSON) -> bool:
    """JSON Logic truthiness: null, false, 0, "" and [] are false (the library's own helper)."""
    result: bool = to_bool(value)
    return result


def _finite(value: float) -> JSON:
    return js_number(value) if math.isfinite(value) else None


def _numbers(args: Sequence[JSON]) -> list[float] | None:
    if not all(is_number(arg) for arg in args):
        return None
    return [float(js_number(arg)) for arg in args]


def _var(data: JSON, path: JSON = None, default: JSON = None, *_: JSON) -> JSON:
    if path is None or path == "":
        return data
    if is_number(path):
        path = js_string(path)
    if not isinstance(path, str):
        return default
    current = data
    for segment in path.split("."):
        if isinstance(current, dict):
            if segment not in current:
                return default
            current = current[segment]
        elif isinstance(current, list):
            if not _is_index(segment) or int(segment) >= len(current):
                return default
            current = current[int(segment)]
        else:
            return default
    return default if current is None else current


def _is_index(segment: str) -> bool:
    """A canonical array index ("0", "12"; not "01", "-1" or "1.0")."""
    return segment.isascii() and segment.isdigit() and (segment == "0" or not segment.startswith("0"))


def _is_missing(value: JSON) -> bool:
    return value is None or value == "" or (isinstance(value, list) and not value)


def _missing(data: JSON, *args: JSON) -> JSON:
    keys = args[0] if args and isinstance(args[0], list) else list(args)
    return [key for key in keys if _is_missing(_var(data, key))]


def _missing_some(data: JSON, need: JSON = None, keys: JSON = None, *_: JSON) -> JSON:
    if not is_number(need) or not isinstance(keys, list):
        return []
    missing = _missing(data, keys)
    return [] if len(keys) - len(missing) >= float(need) else missing


def _order(a: JSON, b: JSON) -> int | None:
    """-1, 0 or 1 for two numbers or two strings; None when they do not compare."""
    if is_number(a) and is_number(b):
        x, y = float(js_number(a)), float(js_number(b))
        return (x > y) - (x < y)
    if isinstance(a, str) and isinstance(b, str):
        p, q = utf16_key(a), utf16_key(b)
        return (p > q) - (p < q)
    return None


def _comparison(accept: Callable[[int], bool]) -> Callable[..., JSON]:
    def compare(_data: JSON, a: JSON = None, b: JSON = None, c: JSON = _ABSENT, *_: JSON) -> JSON:
        pairs = [(a, b)] if c is _ABSENT else [(a, b), (b, c)]
        for left, right in pairs:
            order = _order(left, right)
            if order is None or not accept(order):
                return False
        return True

    return compare


def _add(_data: JSON, *args: JSON) -> JSON:
    numbers = _numbers(args)
    if not numbers:
        return None
    total = 0.0
    for number in numbers:
        total += number
    return _finite(total)


def _multiply(_data: JSON, *args: JSON) -> JSON:
    numbers = _numbers(args)
    if not numbers:
        return None
    product = 1.0
    for number in numbers:
        product *= number
    return _finite(product)


def _subtract(_data: JSON, a: JSON = None, b: JSON = _ABSENT, *_: JSON) -> JSON:
    numbers = _numbers([a] if b is _ABSENT else [a, b])
    if numbers is None:
        return None
    return _finite(-numbers[0] if len(numbers) == 1 else numbers[0] - numbers[1])


def _divide(_data: JSON, a: JSON = None, b: JSON = None, *_: JSON) -> JSON:
    numbers = _numbers([a, b])
    if numbers is None or numbers[1] == 0:
        return None
    return _finite(numbers[0] / numbers[1])


def _remainder(_data: JSON, a: JSON = None, b: JSON = None, *_: JSON) -> JSON:
    numbers = _numbers([a, b])
    if numbers is None or numbers[1] == 0:
        return None
    return _finite(math.fmod(numbers[0], numbers[1]))  # sign of the dividend, as JavaScript's %


def _extreme(pick: Callable[[list[float]], float]) -> Callable[..., JSON]:
    def extreme(_data: JSON, *args: JSON) -> JSON:
        numbers = _numbers(args)
        return _finite(pick(numbers)) if numbers else None

    return extreme


def text_of(value: JSON) -> str:
    """How ``cat`` prints a value: null as "", arrays joined with ",", objects as "[object Object]"."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return js_string(value)
    if isinstance(value, list):
        return ",".join(text_of(item) for item in value)
    return "[object Object]"


def _cat(_data: JSON, *args: JSON) -> JSON:
    return "".join(text_of(arg) for arg in args)


def _substr(_data: JSON, source: JSON = None, start: JSON = None, length: JSON = _ABSENT, *_: JSON) -> JSON:
    text = text_of(source)  # Python indexes strings by code point, as the browser's Array.from does
    size = len(text)
    if not is_number(start) or (length is not _ABSENT and not is_number(length)):
        return None
    begin = int(float(start))
    begin = max(0, size + begin) if begin < 0 else min(begin, size)
    if length is _ABSENT:
        end = size
    else:
        count = int(float(length))
        end = max(begin, size + count) if count < 0 else min(size, begin + count)
    return text[begin:end]


def _in(_data: JSON, needle: JSON = None, haystack: JSON = None, *_: JSON) -> JSON:
    if isinstance(haystack, list):
        return any(deep_equal(needle, item) for item in haystack)
    if isinstance(haystack, str):
        return isinstance(needle, str) and needle in haystack
    return False


def _merge(_data: JSON, *args: JSON) -> JSON:
    merged: list[JSON] = []
    for arg in args:
        if isinstance(arg, list):
            merged.extend(arg)
        else:
            merged.append(arg)
    return merged


def _not(_data: JSON, value: JSON = None, *_: JSON) -> JSON:
    return not truthy(value)


def _truthy(_data: JSON, value: JSON = None, *_: JSON) -> JSON:
    return truthy(value)


def _equal(_data: JSON, a: JSON = None, b: JSON = None, *_: JSON) -> JSON:
    return deep_equal(a, b)


def _not_equal(_data: JSON, a: JSON = None, b: JSON = None, *_: JSON) -> JSON:
    return not deep_equal(a, b)


# The operations handed to the library: only these exist while a rule runs (the library's own
# table, with log and its looser variants, is never consulted).
OPERATIONS: Final[dict[str, Callable[..., JSON]]] = {
    "var": _var,
    "missing": _missing,
    "missing_some": _missing_some,
    "!": _not,
    "!!": _truthy,
    "==": _equal,
    "===": _equal,
    "!=": _not_equal,
    "!==": _not_equal,
    "<": _comparison(lambda order: order < 0),
    "<=": _comparison(lambda order: order <= 0),
    ">": _comparison(lambda order: order > 0),
    ">=": _comparison(lambda order: order >= 0),
    "+": _add,
    "-": _subtract,
    "*": _multiply,
    "/": _divide,
    "%": _remainder,
    "min": _extreme(min),
    "max": _extreme(max),
    "cat": _cat,
    "substr": _substr,
    "in": _in,
    "merge": _merge,
}


def apply(rule: JSON, data: JSON) -> JSON:
    """The value of ``rule`` (a checked expression) over ``data``."""
    result: Any = library_apply(rule, data, OPERATIONS)
    return result


Program = Callable[[JSON], JSON]


def compile_rule(rule: JSON) -> Program:
    """``rule`` as a function of the data that gives what ``apply`` gives, step for step as the
    library's walk (the control and array forms are its code, transcribed), but with the walk's
    decisions taken once: which operator, which arguments are literals. A compiled form runs
    its rules for every submission; walking them each time was a third of an evaluation."""
    if isinstance(rule, list):
        items = [compile_rule(item) for item in rule]
        return lambda data: [item(data) for item in items]
    if not isinstance(rule, dict) or len(rule) != 1:
        return lambda _data: rule
    op: str = next(iter(rule))
    args = rule[op]
    if not isinstance(args, list):
        args = [args]
    if op in _FORMS:
        return _FORMS[op](args)
    operation = OPERATIONS.get(op)
    if operation is None:
        # Refused when a definition is checked; should one run, the library raises as it would.
        return lambda data: library_apply(rule, data, OPERATIONS)
    if all(_literal(arg) for arg in args):  # {"var": "age"}: nothing to evaluate but the operator
        return lambda data: operation(data, *args)
    programs = [compile_rule(arg) for arg in args]
    if len(programs) == 1:
        (only,) = programs
        return lambda data: operation(data, only(data))
    if len(programs) == 2:
        first, second = programs
        return lambda data: operation(data, first(data), second(data))
    return lambda data: operation(data, *[program(data) for program in programs])


def _literal(value: JSON) -> bool:
    """A value ``apply`` gives back unchanged: not a list, not an object of one key."""
    return not isinstance(value, list) and not (isinstance(value, dict) and len(value) == 1)


def _if(args: list[JSON]) -> Program:
    programs = [compile_rule(arg) for arg in args]
    count = len(programs)

    def run(data: JSON) -> JSON:
        index = 0
        while index < count - 1:
            if to_bool(programs[index](data)):
                return programs[index + 1](data)
            index += 2
        if index >= count:
            return None
        return programs[index](data)

    return run


def _first(stops: Callable[[JSON], bool]) -> Callable[[list[JSON]], Program]:
    """and (``stops``: falsy) / or (truthy): the first value that stops, else the last (null for none)."""

    def compile_connective(args: list[JSON]) -> Program:
        programs = [compile_rule(arg) for arg in args]

        def run(data: JSON) -> JSON:
            current = None
            for program in programs:
                current = program(data)
                if stops(current):
                    return current
            return current

        return run

    return compile_connective


def _filter(args: list[JSON]) -> Program:
    if len(args) < 2:
        return lambda _data: []
    items_of, keep = compile_rule(args[0]), compile_rule(args[1])

    def run(data: JSON) -> JSON:
        items = items_of(data)
        if not isinstance(items, list):
            return []
        return [item for item in items if to_bool(keep(item))]

    return run


def _reduce(args: list[JSON]) -> Program:
    if not args:
        return lambda _data: None
    items_of = compile_rule(args[0])
    step = compile_rule(args[1] if len(args) > 1 else None)
    initial = args[2] if len(args) > 2 else None  # a literal: the library does not evaluate it

    def run(data: JSON) -> JSON:
        items = items_of(data)
        if not isinstance(items, list):
            return initial
        context: dict[str, JSON] = {"accumulator": initial}
        for item in items:
            context["current"] = item
            context["accumulator"] = step(context)
        return context["accumulator"]

    return run


def _map(args: list[JSON]) -> Program:
    if not args:
        return lambda _data: []
    items_of = compile_rule(args[0])
    each = compile_rule(args[1] if len(args) > 1 else None)

    def run(data: JSON) -> JSON:
        items = items_of(data)
        if not isinstance(items, list):
            return []
        return [each(item) for item in items]

    return run


def _quantifier(
    empty: bool, when: Callable[[Iterable[bool]], bool], *, nonempty: bool = False
) -> Callable[..., Program]:
    """all / some / none: ``empty`` without the two arguments or a list; ``nonempty``: [] gives
    ``empty`` too (JSON Logic's all)."""

    def compile_quantifier(args: list[JSON]) -> Program:
        if len(args) < 2:
            return lambda _data: empty
        items_of, test = compile_rule(args[0]), compile_rule(args[1])

        def run(data: JSON) -> JSON:
            items = items_of(data)
            if not isinstance(items, list) or (nonempty and not items):
                return empty
            return when(to_bool(test(item)) for item in items)

        return run

    return compile_quantifier


# The forms the library itself runs (their arguments are evaluated lazily, or per element).
_FORMS: Final[dict[str, Callable[[list[JSON]], Program]]] = {
    "if": _if,
    "?:": _if,
    "and": _first(not_),
    "or": _first(to_bool),
    "filter": _filter,
    "reduce": _reduce,
    "map": _map,
    "all": _quantifier(False, all, nonempty=True),
    "some": _quantifier(False, any),
    "none": _quantifier(True, lambda results: not any(results)),
}
