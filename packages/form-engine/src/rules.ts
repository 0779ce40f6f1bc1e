/** Static analysis of rules and their evaluation order; the twin of services/forms/engine/rules.py. */
import type { Element, Layout } from "./layout.js";
import { ARRAY_OPERATORS, BANNED_OPERATORS, OPERATORS } from "./logic.js";
import type { Problem, Reason } from "./model.js";
import { isNumber, isObject, pointer, type Json, type Part } from "./values.js";

export const MAX_DEPTH = 32;

export interface Scope {
  kind: "form" | "item" | "scalar" | "reduce";
  rows: readonly Element[];
  group: Element | null;
  inner: Scope | null;
}

const SCALAR: Scope = { kind: "scalar", rows: [], group: null, inner: null };

export function formScope(element: Element | null): Scope {
  return { kind: "form", rows: element ? element.repeats : [], group: null, inner: null };
}

export class RuleAnalysis {
  constructor(
    readonly layout: Layout,
    readonly problems: Problem[],
  ) {}

  analyze(rule: Json, scope: Scope, parts: readonly Part[]): Set<Element> {
    const reads = new Set<Element>();
    this.walk(rule, scope, parts, reads, 0);
    return reads;
  }

  private problem(parts: readonly Part[], reason: Reason, message: string): void {
    this.problems.push({ pointer: pointer(parts), reason, message });
  }

  private walk(node: Json, scope: Scope, parts: readonly Part[], reads: Set<Element>, depth: number): void {
    if (depth > MAX_DEPTH) {
      this.problem(parts, "RULE_INVALID", `rules nest at most ${MAX_DEPTH} deep`);
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, index) => {
        this.walk(item, scope, [...parts, index], reads, depth + 1);
      });
      return;
    }
    if (!isObject(node)) return;
    const keys = Object.keys(node);
    if (keys.length !== 1) {
      this.problem(parts, "RULE_INVALID", "an object in a rule must be one operator and its arguments");
      return;
    }
    const op = keys[0] as string;
    const value = node[op] as Json;
    const here = [...parts, op];
    const args = Array.isArray(value) ? value : [value];
    const argParts = Array.isArray(value) ? args.map((_, i) => [...here, i]) : [here];
    if (BANNED_OPERATORS.has(op)) {
      this.problem(here, "RULE_BANNED_OPERATOR", `operator '${op}' is not allowed`);
      return;
    }
    const arity = Object.prototype.hasOwnProperty.call(OPERATORS, op) ? OPERATORS[op] : undefined;
    if (arity === undefined) {
      this.problem(here, "RULE_UNKNOWN_OPERATOR", `unknown operator '${op}'`);
      return;
    }
    const [fewest, most] = arity;
    if (args.length < fewest || (most !== null && args.length > most)) {
      this.problem(here, "RULE_INVALID_ARGUMENTS", `'${op}' takes ${fewest} to ${most ?? "any"} arguments`);
      return;
    }
    const arg = (i: number): Json => args[i] as Json;
    const at = (i: number): Part[] => argParts[i] as Part[];
    if (op === "var") {
      this.variable(arg(0), scope, at(0), reads);
      if (args.length === 2) this.walk(arg(1), scope, at(1), reads, depth + 1);
    } else if (op === "missing") {
      const first = arg(0);
      if (args.length === 1 && Array.isArray(first)) {
        first.forEach((name, i) => {
          this.variable(name, scope, [...at(0), i], reads);
        });
      } else {
        args.forEach((name, i) => {
          this.variable(name, scope, at(i), reads);
        });
      }
    } else if (op === "missing_some") {
      const names = arg(1);
      if (!isNumber(arg(0)) || !Array.isArray(names)) {
        this.problem(here, "RULE_INVALID_ARGUMENTS", "missing_some takes a number and a list of fields");
        return;
      }
      names.forEach((name, i) => {
        this.variable(name, scope, [...at(1), i], reads);
      });
    } else if (ARRAY_OPERATORS.has(op)) {
      this.walk(arg(0), scope, at(0), reads, depth + 1);
      let inner = this.elementScope(arg(0), scope);
      if (op === "reduce") {
        inner = { kind: "reduce", rows: [], group: null, inner };
        const initial = arg(2);
        if (args.length === 3 && (Array.isArray(initial) || isObject(initial))) {
          this.problem(at(2), "RULE_INVALID_ARGUMENTS", "reduce starts from a literal value");
        }
      }
      this.walk(arg(1), inner, at(1), new Set(), depth + 1);
    } else {
      args.forEach((item, i) => {
        this.walk(item, scope, at(i), reads, depth + 1);
      });
    }
  }

  private variable(name: Json, scope: Scope, parts: readonly Part[], reads: Set<Element>): void {
    if (typeof name !== "string") {
      this.problem(parts, "RULE_INVALID_ARGUMENTS", "a field is named by a literal string");
      return;
    }
    const [element, error] = this.resolve(name, scope);
    if (error) this.problem(parts, "RULE_UNKNOWN_FIELD", error);
    else if (element !== null && scope.kind === "form") reads.add(element);
  }

  resolve(name: string, scope: Scope): [Element | null, string] {
    if (scope.kind === "reduce") {
      if (name === "accumulator" || name === "current" || name === "") return [null, ""];
      if (name.startsWith("current.")) return this.resolve(name.slice("current.".length), scope.inner ?? SCALAR);
      return [null, `inside reduce only 'current' and 'accumulator' exist, not '${name}'`];
    }
    if (name === "") return scope.kind !== "form" ? [null, ""] : [null, "an empty path names no field"];
    if (scope.kind === "scalar") return [null, `'${name}': the elements here are single values; use {"var": ""}`];
    let level = scope.kind === "item" ? scope.group : null;
    const rows = scope.kind === "form" ? scope.rows : [];
    const segments = name.split(".");
    for (const [position, segment] of segments.entries()) {
      const element = this.layout.members.get(level)?.get(segment);
      if (element === undefined || !element.isValue) return [null, `'${name}' names no field`];
      if (position === segments.length - 1) return [element, ""];
      if (element.type === "REPEATING_GROUP" && !rows.includes(element)) {
        return [null, `'${name}' reaches into the items of '${element.path}'; use an array operator over it`];
      }
      if (element.type !== "GROUP" && element.type !== "REPEATING_GROUP") return [null, `'${name}' names no field`];
      level = element;
    }
    return [null, `'${name}' names no field`];
  }

  elementScope(source: Json, scope: Scope): Scope {
    if (isObject(source)) {
      const keys = Object.keys(source);
      if (keys.length === 1) {
        const op = keys[0] as string;
        const value = source[op] as Json;
        const args = Array.isArray(value) ? value : [value];
        const first = args[0];
        if (op === "var" && typeof first === "string") {
          const [element, error] = this.resolve(first, scope);
          if (element !== null && !error && element.type === "REPEATING_GROUP") {
            return { kind: "item", rows: [], group: element, inner: null };
          }
        }
        if (op === "filter" && first !== undefined) return this.elementScope(first, scope);
      }
    }
    return SCALAR;
  }
}

// -- evaluation order -------------------------------------------------------------------------------------

export type NodeKind = "visible" | "value";
export interface Node {
  kind: NodeKind;
  element: Element;
}

export function nodeOf(element: Element): Node {
  const container = ["SECTION", "PAGE", "GROUP", "REPEATING_GROUP"].includes(element.type);
  return { kind: container ? "visible" : "value", element };
}

/** Nodes, each after what it depends on; elements whose rules sit on a cycle are reported. */
export function evaluationOrder(layout: Layout, reads: Map<Element, Set<Element>>, problems: Problem[]): Node[] {
  // Nodes are interned so that identity works as a map key.
  const interned = new Map<Element, Map<NodeKind, Node>>();
  const node = (kind: NodeKind, element: Element): Node => {
    let byKind = interned.get(element);
    if (!byKind) interned.set(element, (byKind = new Map<NodeKind, Node>()));
    let found = byKind.get(kind);
    if (!found) byKind.set(kind, (found = { kind, element }));
    return found;
  };
  const edges = new Map<Node, Node[]>();
  for (const element of layout.elements) {
    const own = nodeOf(element);
    const ownNode = node(own.kind, element);
    let depends = edges.get(ownNode);
    if (!depends) edges.set(ownNode, (depends = []));
    if (element.parent !== null) depends.push(node("visible", element.parent));
    const read = [...(reads.get(element) ?? new Set<Element>())].sort((a, b) => a.index - b.index);
    for (const target of read) depends.push(node("value", target));
    if (element.type === "GROUP" || element.type === "REPEATING_GROUP") {
      edges.set(node("value", element), [ownNode, ...layout.answerChildren(element).map((child) => node("value", child))]);
    }
  }
  const [order, cyclic] = topological(edges);
  const elements = [...new Set([...cyclic].map((n) => n.element))].sort((a, b) => a.index - b.index);
  for (const element of elements) {
    if (element.rule("visibleWhen") !== undefined || element.rule("compute") !== undefined) {
      problems.push({ pointer: pointer(element.definitionParts), reason: "RULE_CYCLE", message: `the rules of '${element.path}' depend on themselves` });
    }
  }
  return order;
}

function topological(edges: Map<Node, Node[]>): [Node[], Set<Node>] {
  const indexOf = new Map<Node, number>();
  const low = new Map<Node, number>();
  const stack: Node[] = [];
  const onStack = new Set<Node>();
  const order: Node[] = [];
  const cyclic = new Set<Node>();
  const visit = (target: Node, work: [Node, number][]) => {
    indexOf.set(target, indexOf.size);
    low.set(target, indexOf.size - 1);
    stack.push(target);
    onStack.add(target);
    work.push([target, 0]);
  };
  for (const start of edges.keys()) {
    if (indexOf.has(start)) continue;
    const work: [Node, number][] = [];
    visit(start, work);
    while (work.length > 0) {
      const top = work[work.length - 1] as [Node, number];
      const [current, position] = top;
      const targets = edges.get(current) ?? [];
      if (position < targets.length) {
        top[1] = position + 1;
        const target = targets[position] as Node;
        if (!indexOf.has(target)) visit(target, work);
        else if (onStack.has(target)) low.set(current, Math.min(low.get(current) ?? 0, indexOf.get(target) ?? 0));
        continue;
      }
      work.pop();
      const caller = work[work.length - 1];
      if (caller) low.set(caller[0], Math.min(low.get(caller[0]) ?? 0, low.get(current) ?? 0));
      if (low.get(current) === indexOf.get(current)) {
        const component: Node[] = [];
        for (;;) {
          const member = stack.pop() as Node;
          onStack.delete(member);
          component.push(member);
          if (member === current) break;
        }
        if (component.length > 1 || (edges.get(current) ?? []).includes(current)) for (const member of component) cyclic.add(member);
        order.push(...component.reverse());
      }
    }
  }
  return [order, cyclic];
}
