"use client";
import { useQuery } from "@tanstack/react-query";
import { AppShell } from "@/components/app-shell";
import { AuditTable } from "@/components/audit-table";
import { ErrorAlert } from "@/components/error-alert";
import { Pager } from "@/components/pager";
import { Card } from "@/components/ui/card";
import { useActingTenant } from "@/lib/acting-tenant";
import { api } from "@/lib/api";
import { useT } from "@/lib/i18n";
import { usePageTokens } from "@/lib/paging";

export default function AuditPage() {
  const t = useT();
  const paging = usePageTokens();
  const acting = useActingTenant((s) => s.tenantId);
  const events = useQuery({
    queryKey: ["audit", acting, paging.pageToken],
    queryFn: () => api("AuditService_ListAuditEvents", { query: { pageSize: 50, pageToken: paging.pageToken || undefined } }),
  });
  return (
    <AppShell title={t("audit.title")}>
      <Card>
        <ErrorAlert error={events.error} />
        <AuditTable caption={t("audit.title")} events={events.data?.auditEvents ?? []} />
        <Pager paging={paging} nextPageToken={events.data?.nextPageToken} />
      </Card>
    </AppShell>
  );
}
