// Small pure helpers of the tenant pages (unit-tested).
import type { Translate } from "./i18n";
import { isMessageKey } from "./messages";

/** "tier=gold, region=eu" -> {tier: "gold", region: "eu"}; blank parts ignored. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of text.split(",")) {
    const item = part.trim();
    if (!item) {
      continue;
    }
    const at = item.indexOf("=");
    const key = (at < 0 ? item : item.slice(0, at)).trim();
    labels[key] = at < 0 ? "" : item.slice(at + 1).trim();
  }
  return labels;
}

export function formatLabels(labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(", ");
}

/** How a tenant is named to people: its display name, else its slug, else its id (while its
 * record is loading, or could not be read). */
export function tenantName(tenant: { displayName?: string; slug?: string } | undefined, tenantId: string): string {
  return tenant?.displayName || tenant?.slug || tenantId;
}

/** TENANT_STATE_ACTIVE -> "active" (enums come from the edge by name). */
export function stateName(state: string | undefined, prefix = "TENANT_STATE_"): string {
  return (state ?? "").replace(prefix, "").toLowerCase();
}

/** An enum value as people of the current locale read it ("state.<VALUE>" in the messages); one
 * the console has no words for yet is shown as stateName shows it. */
export function stateLabel(t: Translate, state: string | undefined, prefix = "TENANT_STATE_"): string {
  const key = `state.${state ?? ""}`;
  return isMessageKey(key) ? t(key) : stateName(state, prefix);
}

/** States a tenant can still change out of on its own (poll while in one). */
export function isTransitional(state: string | undefined): boolean {
  return state === "TENANT_STATE_PROVISIONING" || state === "TENANT_STATE_DELETING";
}
