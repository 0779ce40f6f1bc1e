// The menu editor's list: entries in the order the menu shows them, each with its depth and its
// position among its siblings, and a move applied the way the menus service applies it, so the
// editor can show a move before the service answers (pure; unit-tested).

interface EntryLike {
  key?: string;
  parent?: string;
  order?: number;
}

export interface Placed<E> {
  entry: E;
  depth: number;
  index: number;
  count: number;
}

/** Siblings are renumbered by this step on a move, as the menus service does. */
const ORDER_STEP = 10;

// ListMenuEntries carries effective values (the override applied), which is what the service
// orders siblings by; proto3 JSON leaves out an empty parent and a zero order.
const parentOf = (e: EntryLike) => e.parent ?? "";
const orderOf = (e: EntryLike) => e.order ?? 0;

/** The service's sibling order: by order, then by key compared by code point (as Python compares
 * strings; `localeCompare` would order some keys otherwise, and a move would then land elsewhere). */
function byMenuOrder(a: EntryLike, b: EntryLike): number {
  const ka = a.key ?? "";
  const kb = b.key ?? "";
  return orderOf(a) - orderOf(b) || (ka < kb ? -1 : ka > kb ? 1 : 0);
}

export function orderedEntries<E extends EntryLike>(entries: readonly E[]): Placed<E>[] {
  const keys = new Set(entries.map((e) => e.key ?? ""));
  const children = new Map<string, E[]>();
  for (const entry of entries) {
    const parent = keys.has(parentOf(entry)) ? parentOf(entry) : "";
    children.set(parent, [...(children.get(parent) ?? []), entry]);
  }
  const placed: Placed<E>[] = [];
  const walk = (parent: string, depth: number) => {
    const level = (children.get(parent) ?? []).slice().sort(byMenuOrder);
    level.forEach((entry, index) => {
      placed.push({ entry, depth, index, count: level.length });
      if (depth < 8) walk(entry.key ?? "", depth + 1);
    });
  };
  walk("", 0);
  return placed;
}

/** The entries after MoveMenuEntry(key, parent, position): the moved entry at ``position`` among
 * its new siblings (beyond the last: last), siblings renumbered 10, 20, …, as the service does. */
export function applyMove<E extends EntryLike>(entries: readonly E[], key: string, parent: string, position: number): E[] {
  const moved = entries.find((e) => e.key === key);
  if (!moved) return [...entries];
  const siblings = entries.filter((e) => parentOf(e) === parent && e.key !== key).sort(byMenuOrder);
  siblings.splice(Math.min(Math.max(position, 0), siblings.length), 0, moved);
  const placement = new Map(siblings.map((e, index) => [e.key ?? "", (index + 1) * ORDER_STEP]));
  return entries.map((e) => {
    const order = placement.get(e.key ?? "");
    return order === undefined ? e : { ...e, parent, order };
  });
}

/** The keys of every entry in a menu tree (GetMyMenu's items). */
export function menuKeys(items: readonly { key?: string; children?: readonly unknown[] }[]): Set<string> {
  const keys = new Set<string>();
  const walk = (nodes: readonly { key?: string; children?: readonly unknown[] }[]) => {
    for (const node of nodes) {
      if (node.key) keys.add(node.key);
      walk((node.children ?? []) as { key?: string; children?: readonly unknown[] }[]);
    }
  };
  walk(items);
  return keys;
}

/** An id for a new custom entry from its label (the menus service wants ^[a-z][a-z0-9-]{0,62}$),
 * with a random tail so two entries with one label do not collide. */
export function customEntryId(label: string, random: string = Math.random().toString(36).slice(2, 8)): string {
  const slug = label
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  return `${/^[a-z]/.test(slug) ? slug : `entry-${slug}`}-${random}`.replace(/-+/g, "-").replace(/-$/, "");
}

/** The id DeleteCustomEntry wants for a custom entry (key "custom/<id>"); undefined for an entry
 * of the platform, a service or a form, which cannot be deleted (only overridden). */
export function customIdOf(entry: { key?: string; source?: string }): string | undefined {
  const key = entry.key ?? "";
  return entry.source === "ENTRY_SOURCE_CUSTOM" && key.startsWith("custom/") ? key.slice("custom/".length) : undefined;
}
