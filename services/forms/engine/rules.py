"""Static analysis of rules: operators, arguments, the fields they name, and the order to evaluate them.

A rule names fields by path ("address.city"). Inside a repeating group a rule runs once per item and
the group's path means the current item ("items.qty" is this item's quantity); elsewhere a repeating
group is an array, reached only through the array operators, whose inner expression sees one element
(a repeating group's item, whose fields it names relative to the item: "qty") or, for ``reduce``,
``current`` and ``accumulator``.

Visibility and computed values depend on one another (a hidden field's answer is gone for every rule
after it), so they are ordered as a graph: a node per container's visibility and per value, an edge
from everything a rule reads. A cycle is a definition error; any topological order gives the same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from services.forms.engine.layout import Element, Layout
from services.forms.engine.logic import ARRAY_OPERATORS, BANNED_OPERATORS, OPERATORS
from services.forms.engine.model import Problem, Reason
from services.forms.engine.values import JSON, is_number, pointer

MAX_DEPTH: Final = 32


@dataclass(frozen=True)
class Scope:
    """What a rule's data is where a var is read.

    ``form``: the answers, with the items of ``rows`` current; ``item``: one item of ``group``;
    ``scalar``: one array element that is not an item (a choice, a computed element); ``reduce``:
    ``current`` (an element of ``inner``) and ``accumulator``.
    """

    kind: str
    rows: tuple[Element, ...] = ()
    group: Element | None = None
    inner: Scope | None = None


SCALAR: Final = Scope("scalar")


class RuleAnalysis:
    """Checks one rule at a time, collecting problems and the elements each rule reads."""

    def __init__(self, layout: Layout, problems: list[Problem]) -> None:
        self.layout = layout
        self.problems = problems

    def analyze(self, rule: JSON, scope: Scope, parts: tuple[str | int, ...]) -> set[Element]:
        """Problems of ``rule`` (at ``parts`` in the definition) and the elements it reads."""
        reads: set[Element] = set()
        self._walk(rule, scope, parts, reads, 0)
        return reads

    def _problem(self, parts: tuple[str | int, ...], reason: Reason, message: str) -> None:
        self.problems.append(Problem(pointer(parts), reason, message))

    def _walk(self, node: JSON, scope: Scope, parts: tuple[str | int, ...], reads: set[Element], depth: int) -> None:
        if depth > MAX_DEPTH:
            self._problem(parts, Reason.RULE_INVALID, f"rules nest at most {MAX_DEPTH} deep")
            return
        if isinstance(node, list):
            for index, item in enumerate(node):
                self._walk(item, scope, (*parts, index), reads, depth + 1)
            return
        if not isinstance(node, dict):
            return
        if len(node) != 1:
            self._problem(parts, Reason.RULE_INVALID, "an object in a rule must be one operator and its arguments")
            return
        op, value = next(iter(node.items()))
        here = (*parts, op)
        args = value if isinstance(value, list) else [value]
        arg_parts = [(*here, i) for i in range(len(args))] if isinstance(value, list) else [here]
        if op in BANNED_OPERATORS:
            self._problem(here, Reason.RULE_BANNED_OPERATOR, f"operator {op!r} is not allowed")
            return
        if op not in OPERATORS:
            self._problem(here, Reason.RULE_UNKNOWN_OPERATOR, f"unknown operator {op!r}")
            return
        fewest, most = OPERATORS[op]
        if len(args) < fewest or (most is not None and len(args) > most):
            self._problem(here, Reason.RULE_INVALID_ARGUMENTS, f"{op!r} takes {fewest} to {most or 'any'} arguments")
            return
        if op == "var":
            self._var(args[0], scope, arg_parts[0], reads)
            if len(args) == 2:
                self._walk(args[1], scope, arg_parts[1], reads, depth + 1)
        elif op == "missing":
            names, name_parts = (args[0], [(*arg_parts[0], i) for i in range(len(args[0]))]) if (
                len(args) == 1 and isinstance(args[0], list)
            ) else (args, arg_parts)  # fmt: skip
            for name, where in zip(names, name_parts, strict=True):
                self._var(name, scope, where, reads)
        elif op == "missing_some":
            if not is_number(args[0]) or not isinstance(args[1], list):
                self._problem(here, Reason.RULE_INVALID_ARGUMENTS, "missing_some takes a number and a list of fields")
                return
            for index, name in enumerate(args[1]):
                self._var(name, scope, (*arg_parts[1], index), reads)
        elif op in ARRAY_OPERATORS:
            self._walk(args[0], scope, arg_parts[0], reads, depth + 1)
            inner = self.element_scope(args[0], scope)
            if op == "reduce":
                inner = Scope("reduce", inner=inner)
                if len(args) == 3 and (isinstance(args[2], list | dict)):
                    self._problem(arg_parts[2], Reason.RULE_INVALID_ARGUMENTS, "reduce starts from a literal value")
            self._walk(args[1], inner, arg_parts[1], set(), depth + 1)  # reads inside are the array's own
        else:
            for arg, where in zip(args, arg_parts, strict=True):
                self._walk(arg, scope, where, reads, depth + 1)

    def _var(self, name: JSON, scope: Scope, parts: tuple[str | int, ...], reads: set[Element]) -> None:
        if not isinstance(name, str):
            self._problem(parts, Reason.RULE_INVALID_ARGUMENTS, "a field is named by a literal string")
            return
        element, error = self.resolve(name, scope)
        if error:
            self._problem(parts, Reason.RULE_UNKNOWN_FIELD, error)
        elif element is not None and scope.kind == "form":
            reads.add(element)

    def resolve(self, name: str, scope: Scope) -> tuple[Element | None, str]:
        """The element ``name`` reads in ``scope`` (None for a whole item or element), or why it cannot."""
        if scope.kind == "reduce":
            if name in ("accumulator", "current", ""):
                return None, ""
            if name.startswith("current."):
                return self.resolve(name.removeprefix("current."), scope.inner or SCALAR)
            return None, f"inside reduce only 'current' and 'accumulator' exist, not {name!r}"
        if name == "":
            return (None, "") if scope.kind != "form" else (None, "an empty path names no field")
        if scope.kind == "scalar":
            return None, f"{name!r}: the elements here are single values; use {{'var': ''}}"
        level = scope.group if scope.kind == "item" else None
        rows = scope.rows if scope.kind == "form" else ()
        segments = name.split(".")
        for position, segment in enumerate(segments):
            element = self.layout.members.get(level, {}).get(segment)
            if element is None or not element.is_value:
                return None, f"{name!r} names no field"
            if position == len(segments) - 1:
                return element, ""
            if element.type == "REPEATING_GROUP" and element not in rows:
                return None, f"{name!r} reaches into the items of {element.path!r}; use an array operator over it"
            if element.type not in ("GROUP", "REPEATING_GROUP"):
                return None, f"{name!r} names no field"
            level = element
        return None, f"{name!r} names no field"

    def element_scope(self, source: JSON, scope: Scope) -> Scope:
        """The scope of the elements of the array ``source`` evaluates to."""
        if isinstance(source, dict) and len(source) == 1:
            op, value = next(iter(source.items()))
            args = value if isinstance(value, list) else [value]
            if op == "var" and args and isinstance(args[0], str):
                element, error = self.resolve(args[0], scope)
                if element is not None and not error and element.type == "REPEATING_GROUP":
                    return Scope("item", group=element)
            if op == "filter" and args:
                return self.element_scope(args[0], scope)
        return SCALAR


# -- evaluation order ---------------------------------------------------------------------------------

Node = tuple[str, Element]  # ("visible", container) or ("value", element)


def form_scope(element: Element | None) -> Scope:
    """The scope of a rule attached to ``element``: the items of its enclosing repeating groups are current."""
    return Scope("form", rows=element.repeats if element is not None else ())


def node_of(element: Element) -> Node:
    """The node holding an element's own rules: a container's visibility, a field's value."""
    return (
        ("visible", element) if element.type in ("SECTION", "PAGE", "GROUP", "REPEATING_GROUP") else ("value", element)
    )


def evaluation_order(layout: Layout, reads: dict[Element, set[Element]], problems: list[Problem]) -> list[Node]:
    """Nodes in an order where each comes after what it depends on; cycles are reported as problems."""
    edges: dict[Node, list[Node]] = {}  # node -> the nodes it depends on
    for element in layout.elements:
        own = node_of(element)
        depends = edges.setdefault(own, [])
        if element.parent is not None:
            depends.append(("visible", element.parent))
        depends.extend(("value", read) for read in sorted(reads.get(element, set()), key=lambda e: e.index))
        if element.type in ("GROUP", "REPEATING_GROUP"):
            children = layout.answer_children(element)
            edges[("value", element)] = [own, *(("value", child) for child in children)]
    order, cyclic = _topological(edges)
    for element in sorted({node[1] for node in cyclic}, key=lambda e: e.index):
        if element.rule("visibleWhen") is not None or element.rule("compute") is not None:
            problems.append(Problem(pointer(element.definition_parts), Reason.RULE_CYCLE,
                                    f"the rules of {element.path!r} depend on themselves"))  # fmt: skip
    return order


def _topological(edges: dict[Node, list[Node]]) -> tuple[list[Node], set[Node]]:
    """(order, nodes on a cycle): Tarjan's strongly connected components, which come out dependencies first."""
    index_of: dict[Node, int] = {}
    low: dict[Node, int] = {}
    stack: list[Node] = []
    on_stack: set[Node] = set()
    order: list[Node] = []
    cyclic: set[Node] = set()

    def connect(start: Node) -> None:
        # Iterative, so deep layouts do not reach Python's recursion limit.
        work: list[tuple[Node, int]] = [(start, 0)]
        index_of[start] = low[start] = len(index_of)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, position = work[-1]
            targets = edges.get(node, [])
            if position < len(targets):
                work[-1] = (node, position + 1)
                target = targets[position]
                if target not in index_of:
                    index_of[target] = low[target] = len(index_of)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index_of[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index_of[node]:
                component: list[Node] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, []):
                    cyclic.update(component)
                order.extend(reversed(component))

    for node in edges:
        if node not in index_of:
            connect(node)
    return order, cyclic
