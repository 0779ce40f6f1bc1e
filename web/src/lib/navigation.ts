// The console's own pages and the permission each needs. Until the menus service answers
// GetMyMenu, the navigation is this list filtered by the caller's permissions (from GetMe): an
// entry is shown only when the page's first call would be allowed.

import type { MessageKey } from "./messages";

export interface NavEntry {
  href: string;
  label: MessageKey;
  /** Shown when the caller holds this permission ("" = every signed-in user). */
  permission: string;
  section: "admin" | "manage" | "account";
}

export const NAV_ENTRIES: readonly NavEntry[] = [
  { href: "/dashboard", label: "nav.dashboard", permission: "", section: "manage" },
  { href: "/admin/tenants", label: "nav.tenants", permission: "tenants.tenants.list", section: "admin" },
  { href: "/admin/services", label: "nav.services", permission: "registry.services.create", section: "admin" },
  { href: "/admin/keys", label: "nav.keys", permission: "auth.signing_keys.rotate", section: "admin" },
  { href: "/admin/audit", label: "nav.platformAudit", permission: "auth.audit.list_platform", section: "admin" },
  { href: "/users", label: "nav.users", permission: "auth.users.list", section: "manage" },
  { href: "/invitations", label: "nav.invitations", permission: "auth.invitations.list", section: "manage" },
  { href: "/roles", label: "nav.roles", permission: "auth.roles.list", section: "manage" },
  { href: "/service-accounts", label: "nav.serviceAccounts", permission: "auth.service_accounts.list", section: "manage" },
  { href: "/services", label: "nav.enabledServices", permission: "registry.enabled_services.list", section: "manage" },
  { href: "/audit", label: "nav.audit", permission: "auth.audit.list", section: "manage" },
  { href: "/account", label: "nav.account", permission: "", section: "account" },
];

/** The entries a caller holding ``permissions`` may use, in declaration order ("*", a platform
 * administrator's, holds every permission). */
export function visibleEntries(permissions: readonly string[], entries: readonly NavEntry[] = NAV_ENTRIES): NavEntry[] {
  const held = new Set(permissions);
  return entries.filter((entry) => entry.permission === "" || held.has("*") || held.has(entry.permission));
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
