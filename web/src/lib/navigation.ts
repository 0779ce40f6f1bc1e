// The navigation: the menus service's answer (GetMyMenu: entries filtered by the caller's
// permissions and the tenant's enabled services, labels in the caller's locale), framed by the
// console's own pages the menus service does not declare (dashboard, forms, the platform pages,
// the account), each shown only when the caller holds the permission its first call needs.

import type { MessageKey } from "./messages";
import { consolePath } from "./redirect";

export interface ConsoleEntry {
  href: string;
  label: MessageKey;
  /** Shown when the caller holds this permission ("" = every signed-in user). */
  permission: string;
  place: "start" | "end";
}

export const CONSOLE_ENTRIES: readonly ConsoleEntry[] = [
  { href: "/dashboard", label: "nav.dashboard", permission: "", place: "start" },
  { href: "/forms", label: "nav.forms", permission: "forms.forms.list", place: "end" },
  { href: "/submissions", label: "nav.submissions", permission: "forms.submissions.list", place: "end" },
  { href: "/platform/services", label: "nav.services", permission: "registry.services.create", place: "end" },
  { href: "/platform/keys", label: "nav.keys", permission: "auth.signing_keys.rotate", place: "end" },
  { href: "/platform/audit", label: "nav.platformAudit", permission: "auth.audit.list_platform", place: "end" },
  { href: "/account", label: "nav.account", permission: "", place: "end" },
];

/** One entry of the menu tree as the menus service returns it (tenantmesh.menus.v1.MenuItem). */
export interface MenuItem {
  key?: string;
  kind?: string;
  label?: string;
  icon?: string;
  route?: string;
  externalUrl?: string;
  formId?: string;
  children?: MenuItem[];
}

/** A link or a section of the rendered navigation. */
export interface NavNode {
  key: string;
  /** Text from the server, or a console message. */
  text?: string;
  label?: MessageKey;
  href?: string;
  external?: boolean;
  children: NavNode[];
}

/** Where a menu item leads in the console: a form opens the filler; a route is a console path. */
export function hrefOf(item: MenuItem): { href?: string; external?: boolean } {
  if (item.kind === "ENTRY_KIND_FORM" && item.formId) {
    return { href: `/forms/fill?key=${encodeURIComponent(item.formId)}` };
  }
  if (item.kind === "ENTRY_KIND_EXTERNAL_LINK" && item.externalUrl && /^https?:\/\//.test(item.externalUrl)) {
    return { href: item.externalUrl, external: true };
  }
  const route = consolePath(item.route);
  if (route) {
    return { href: route };
  }
  return {};
}

function fromMenu(item: MenuItem): NavNode {
  return {
    key: item.key ?? item.label ?? "",
    text: item.label ?? "",
    ...hrefOf(item),
    children: (item.children ?? []).map(fromMenu),
  };
}

function allowed(entry: ConsoleEntry, held: ReadonlySet<string>): boolean {
  return entry.permission === "" || held.has("*") || held.has(entry.permission);
}

/** The whole navigation: console entries around the menu's tree; a console page the menu already
 * links to is not repeated. */
export function buildNavigation(menu: readonly MenuItem[], permissions: readonly string[]): NavNode[] {
  const held = new Set(permissions);
  const tree = menu.map(fromMenu);
  const linked = new Set<string>();
  const walk = (nodes: NavNode[]) =>
    nodes.forEach((node) => {
      if (node.href) linked.add(node.href);
      walk(node.children);
    });
  walk(tree);
  const local = (place: ConsoleEntry["place"]) =>
    CONSOLE_ENTRIES.filter((e) => e.place === place && allowed(e, held) && !linked.has(e.href)).map(
      (e): NavNode => ({ key: e.href, label: e.label, href: e.href, children: [] }),
    );
  return [...local("start"), ...tree, ...local("end")];
}

/** Permissions grouped by the service that declares them (the part before the first dot). */
export function groupPermissions(permissions: readonly string[]): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const permission of [...new Set(permissions)].sort()) {
    const service = permission.split(".")[0] ?? permission;
    groups.set(service, [...(groups.get(service) ?? []), permission]);
  }
  return [...groups.entries()];
}
