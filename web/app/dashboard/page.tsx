"use client";
import Link from "next/link";
import { AppShell } from "@/components/app-shell";
import { Card } from "@/components/ui/card";
import { useT } from "@/lib/i18n";
import { useCurrentTenant, useMe } from "@/lib/me";
import type { NavNode } from "@/lib/navigation";
import { tenantName } from "@/lib/tenants";
import { useNavigation } from "@/lib/use-navigation";

export default function DashboardPage() {
  const t = useT();
  const me = useMe();
  const tenantId = me.data?.tenantId ?? "";
  const tenant = useCurrentTenant(tenantId || undefined);
  // The same places as the navigation, sections opened up.
  const flatten = (nodes: NavNode[]): NavNode[] => nodes.flatMap((n) => [...(n.href ? [n] : []), ...flatten(n.children)]);
  const entries = flatten(useNavigation()).filter((e) => e.href !== "/dashboard" && !e.external);
  const name = me.data?.user?.displayName || me.data?.user?.email || "";
  return (
    <AppShell title={t("dashboard.title")}>
      <Card>
        <p className="text-lg" data-testid="welcome">
          {t("dashboard.welcome", { name })}
        </p>
        <p className="text-sm text-slate-700">{t("dashboard.tenant", { tenant: tenantName(tenant.data?.tenant, tenantId) })}</p>
        <p className="text-sm text-slate-700">
          {t("dashboard.permissions", {
            count: me.data?.permissions?.length ?? 0,
            roles: (me.data?.roles ?? []).join(", "),
          })}
        </p>
      </Card>
      <ul className="mt-4 grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-3">
        {entries.map((entry) => (
          <li key={entry.key}>
            <Link href={entry.href ?? "/"} className="block rounded-lg border border-slate-300 bg-white p-4 hover:border-blue-700">
              {entry.text ?? (entry.label ? t(entry.label) : "")}
            </Link>
          </li>
        ))}
      </ul>
    </AppShell>
  );
}
