"use client";
import { useQuery } from "@tanstack/react-query";
import { AppShell } from "@/components/app-shell";
import { AuditTable } from "@/components/audit-table";
import { ErrorAlert } from "@/components/error-alert";
import { Pager } from "@/components/pager";
import { Card } from "@/components/ui/card";
import { api } from "@/lib/api";
import { useT } from "@/lib/i18n";
import { usePageTokens } from "@/lib/paging";

export default function PlatformAuditPage() {
  const t = useT();
  const paging = usePageTokens();
  const events = useQuery({
    queryKey: ["platform-audit", paging.pageToken],
    queryFn: () =>
      api("AuditService_ListPlatformAuditEvents", { query: { pageSize: 50, pageToken: paging.pageToken || undefined } }),
  });
  return (
    <AppShell title={t("audit.platformTitle")}>
      <Card>
        <ErrorAlert error={events.error} />
        <AuditTable caption={t("audit.platformTitle")} events={events.data?.auditEvents ?? []} />
        <Pager paging={paging} nextPageToken={events.data?.nextPageToken} />
      </Card>
    </AppShell>
  );
}
