// The menu editor's list: entries in the order the menu shows them, each with its depth and its
// position among its siblings (pure; unit-tested).

interface EntryLike {
  key?: string;
  parent?: string;
  order?: number;
  override?: { parent?: string | null; order?: number | null } | null;
}

export interface Placed<E> {
  entry: E;
  depth: number;
  index: number;
  count: number;
}

export function orderedEntries<E extends EntryLike>(entries: readonly E[]): Placed<E>[] {
  const parentOf = (e: E) => e.override?.parent ?? e.parent ?? "";
  const orderOf = (e: E) => e.override?.order ?? e.order ?? 0;
  const keys = new Set(entries.map((e) => e.key ?? ""));
  const children = new Map<string, E[]>();
  for (const entry of entries) {
    const parent = keys.has(parentOf(entry)) ? parentOf(entry) : "";
    children.set(parent, [...(children.get(parent) ?? []), entry]);
  }
  const placed: Placed<E>[] = [];
  const walk = (parent: string, depth: number) => {
    const level = (children.get(parent) ?? []).slice().sort((a, b) => orderOf(a) - orderOf(b) || (a.key ?? "").localeCompare(b.key ?? ""));
    level.forEach((entry, index) => {
      placed.push({ entry, depth, index, count: level.length });
      if (depth < 8) walk(entry.key ?? "", depth + 1);
    });
  };
  walk("", 0);
  return placed;
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
