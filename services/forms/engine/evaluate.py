"""``evaluate``: the answers against a definition, as the server decides them and the browser shows them.

The steps, identical in ``packages/form-engine/src/evaluate.ts``:

1. Numbers become what a browser holds (doubles). Answers for keys no field has are violations
   (``unknownField``) and dropped; null and "" mean "not answered" and are dropped.
2. Visibility and computed values, node by node in the definition's evaluation order: an element is
   visible when its container is and its ``visibleWhen`` holds; a hidden field's answer is dropped
   at once, so later rules see it unanswered; a computed value replaces whatever was submitted
   (null or "" is not stored).
3. Required: a visible field whose object exists is required by the schema's ``required`` or a true
   ``requiredWhen``; absent or [] is then a violation.
4. A submitted computed value that differs from the recomputed one is a violation (``computed``):
   the client's rules disagree with the server's or were bypassed, and silently correcting would
   hide either. Leaving it out is fine: the server fills it in.
5. The schema (without the layout's ``required``), then the checks (skipped while their field is
   hidden or its object does not exist), then numbers beyond ±(2^53-1) (``numberRange``: a browser
   cannot hold them exactly).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from services.forms.engine.compiled import CompiledForm, compile_definition
from services.forms.engine.layout import Element, Layout
from services.forms.engine.logic import truthy
from services.forms.engine.messages import message, pick
from services.forms.engine.model import Evaluation, Violation
from services.forms.engine.schema import schema_errors
from services.forms.engine.values import JSON, MAX_SAFE_INTEGER, deep_equal, is_number, js_value, pointer

Rows = tuple[int, ...]
_ONE_INSTANCE: Final[tuple[Rows]] = ((),)  # of an element outside repeating groups


def evaluate(definition: dict[str, Any], answers: JSON, locale: str = "en") -> Evaluation:
    """Evaluates ``answers`` against ``definition`` (raises DefinitionError if it has problems)."""
    return evaluate_compiled(compile_definition(definition), answers, locale)


def evaluate_compiled(form: CompiledForm, answers: JSON, locale: str = "en", *, owned: bool = False) -> Evaluation:
    """``owned``: ``answers`` are the caller's to give away (the evaluation's answers are them,
    changed) and hold numbers as a browser does already, as answers read from a Struct do (only
    doubles, whole ones as ints): then they are not copied first."""
    return _Run(form, locale).run(answers, owned=owned)


class _Run:
    def __init__(self, form: CompiledForm, locale: str) -> None:
        self.form = form
        self.layout: Layout = form.layout
        self.locale = locale
        self.violations: list[Violation] = []
        self.visible: dict[tuple[Element, Rows], bool] = {}
        self.computed: dict[tuple[Element, Rows], JSON] = {}
        self.submitted: dict[tuple[Element, Rows], JSON] = {}  # computed values as the client sent them

    def violation(self, parts: list[str | int] | str, keyword: str, rule: str = "", text: str = "") -> None:
        where = parts if isinstance(parts, str) else pointer(parts)
        self.violations.append(Violation(where, keyword, rule, text or message(keyword, self.locale)))

    def run(self, answers: JSON, *, owned: bool = False) -> Evaluation:
        if not isinstance(answers, dict):
            self.violation("", "type")
            answers = {}
        data: dict[str, Any] = answers if owned else js_value(answers)
        self._normalize(None, data, [])
        for kind, element in self.form.order:
            if kind == "visible":
                self._visibility(element, data, container=True)
            elif element.type not in ("GROUP", "REPEATING_GROUP"):
                self._visibility(element, data, container=False)
        required = self._required(data)
        self._computed_mismatches()
        for where, keyword in schema_errors(self.form.validator, data):
            self.violation(where, keyword)
        self._checks(data)
        self._number_range(data, [])
        unique = sorted(set(self.violations))
        return Evaluation(
            visible={e.pointer(rows): shown for (e, rows), shown in self.visible.items()},
            required=required,
            computed={e.pointer(rows): value for (e, rows), value in self.computed.items()},
            violations=unique,
            answers=data,
        )

    # -- 1. normalisation ----------------------------------------------------------------------------

    def _normalize(self, level: Element | None, answers: dict[str, Any], parts: list[str | int]) -> None:
        members = self.layout.members.get(level, {})
        for key in list(answers):
            element = members.get(key)
            value = answers[key]
            if element is None or not element.is_value:
                self.violation([*parts, key], "unknownField")
                del answers[key]
            elif value is None or value == "":
                del answers[key]
            elif element.type == "GROUP" and isinstance(value, dict):
                self._normalize(element, value, [*parts, key])
            elif element.type == "REPEATING_GROUP" and isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        self._normalize(element, item, [*parts, key, index])

    # -- 2. visibility and computed values --------------------------------------------------------

    def _visibility(self, element: Element, data: dict[str, Any], *, container: bool) -> None:
        rule = element.program("visibleWhen")
        for rows in self._instances(element, data):
            shown = self._parent_visible(element, rows) and (rule is None or truthy(rule(_view(data, element, rows))))
            self.visible[(element, rows)] = shown
            if not shown:
                if element.is_value:
                    _delete(data, element, rows)
            elif not container and element.type == "COMPUTED":
                compute = element.program("compute")
                value = None if compute is None else compute(_view(data, element, rows))
                self.computed[(element, rows)] = value
                holder = _holder(data, element, rows)
                if isinstance(holder, dict) and element.key in holder:
                    self.submitted[(element, rows)] = holder[element.key]
                _store(data, element, rows, value)

    def _parent_visible(self, element: Element, rows: Rows) -> bool:
        parent = element.parent
        if parent is None:
            return True
        return self.visible.get((parent, rows[: len(parent.repeats)]), False)

    def _instances(self, element: Element, data: dict[str, Any]) -> Sequence[Rows]:
        """One row tuple per instance: an index into each enclosing repeating group's current items."""
        if not element.repeats:
            return _ONE_INSTANCE
        instances: list[Rows] = [()]
        for group in element.repeats:
            expanded: list[Rows] = []
            for rows in instances:
                items = _value(data, group, rows)
                if isinstance(items, list):
                    expanded.extend((*rows, index) for index in range(len(items)))
            instances = expanded
        return instances

    # -- 3. required ---------------------------------------------------------------------------------

    def _required(self, data: dict[str, Any]) -> list[str]:
        required: list[str] = []
        for element in self.form.requirable:
            rule = element.program("requiredWhen")
            for rows in self._instances(element, data):
                holder = _holder(data, element, rows)
                if not self.visible.get((element, rows)) or not isinstance(holder, dict):
                    continue
                if element.required_by_schema or (rule is not None and truthy(rule(_view(data, element, rows)))):
                    where = element.pointer(rows)
                    required.append(where)
                    if holder.get(element.key, []) == []:
                        self.violation(where, "required")
        return required

    # -- 4. computed values as submitted ------------------------------------------------------------

    def _computed_mismatches(self) -> None:
        for (element, rows), given in self.submitted.items():
            if not deep_equal(given, self.computed[(element, rows)]):
                self.violation(element.pointer(rows), "computed")

    # -- 5. checks and number range ----------------------------------------------------------------

    def _checks(self, data: dict[str, Any]) -> None:
        for check in self.form.checks:
            target = check.target
            instances = self._instances(target, data) if target is not None else [()]
            for rows in instances:
                if target is not None and not (
                    self.visible.get((target, rows)) and isinstance(_holder(data, target, rows), dict)
                ):
                    continue  # hidden, or in an item that is not an object (the schema reports that)
                view = _view(data, target, rows) if target is not None else data
                if not truthy(check.program(view)):
                    where = target.pointer(rows) if target is not None else ""
                    text = pick(check.message, self.locale, self.form.default_locale) or message("check", self.locale)
                    self.violation(where, "check", check.id, text)

    def _number_range(self, value: JSON, parts: list[str | int]) -> None:
        """Numbers beyond ±(2^53-1) in ``value`` (at ``parts``); a path is built only for an
        object or array it descends into, or a number it refuses."""
        items: Iterable[tuple[str | int, JSON]]
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            if is_number(value) and abs(value) > MAX_SAFE_INTEGER:
                self.violation(parts, "numberRange")
            return
        for key, item in items:
            if isinstance(item, dict | list):
                self._number_range(item, [*parts, key])
            elif is_number(item) and abs(item) > MAX_SAFE_INTEGER:
                self.violation([*parts, key], "numberRange")


# -- navigating the answers --------------------------------------------------------------------------


def _walk(data: dict[str, Any], element: Element, rows: Rows) -> Iterator[tuple[Element, JSON]]:
    """The objects from the answers down to the one holding ``element``'s value (each with its level)."""
    current: JSON = data
    remaining = iter(rows)
    for level in element.levels:
        yield level, current
        current = current.get(level.key) if isinstance(current, dict) else None
        if level.type == "REPEATING_GROUP":
            index = next(remaining)
            current = current[index] if isinstance(current, list) and index < len(current) else None
    yield element, current


def _holder(data: dict[str, Any], element: Element, rows: Rows) -> JSON:
    """The object that holds ``element``'s answer (None when it does not exist)."""
    if not element.levels:
        return data  # a top-level answer: most of a form's, and no walk to set up
    *_, (_element, holder) = _walk(data, element, rows)
    return holder


def _value(data: dict[str, Any], element: Element, rows: Rows) -> JSON:
    holder = _holder(data, element, rows)
    return holder.get(element.key) if isinstance(holder, dict) else None


def _delete(data: dict[str, Any], element: Element, rows: Rows) -> None:
    holder = _holder(data, element, rows)
    if isinstance(holder, dict):
        holder.pop(element.key, None)


def _store(data: dict[str, Any], element: Element, rows: Rows, value: JSON) -> None:
    """Sets a computed value, creating the objects of enclosing groups if they are absent.

    null and "" are not stored, as they would not be if submitted (the value is "not computable")."""
    if value == "":
        value = None
    current: JSON = data
    remaining = iter(rows)
    for level in element.levels:
        if not isinstance(current, dict):
            return
        if level.type == "GROUP":
            if value is not None and level.key not in current:
                current[level.key] = {}
            current = current.get(level.key)
        else:
            items = current.get(level.key)
            index = next(remaining)
            current = items[index] if isinstance(items, list) and index < len(items) else None
    if not isinstance(current, dict):
        return
    if value is None:
        current.pop(element.key, None)
    else:
        current[element.key] = value


def _view(data: dict[str, Any], element: Element, rows: Rows) -> JSON:
    """The data a rule of ``element`` sees: the answers, with each enclosing repeating group replaced
    by its current item (copies along that path only; the answers themselves are not changed)."""
    if not rows:
        return data
    innermost = element.repeats[-1]
    view: dict[str, Any] = dict(data)
    current = view
    remaining = iter(rows)
    for level in (*innermost.levels, innermost):
        value = current.get(level.key)
        if level.type == "REPEATING_GROUP":
            index = next(remaining)
            value = value[index] if isinstance(value, list) and index < len(value) else None
        if level is innermost or not isinstance(value, dict):
            current[level.key] = value
            return view
        copied = dict(value)
        current[level.key] = copied
        current = copied
    return view
