"use client";
import type { Schema } from "@tenantmesh/sdk";
import { useFormat, useT } from "@/lib/i18n";
import { DataTable } from "./ui/table";

type AuditEvent = Schema<"tenantmesh.auth.v1.AuditEvent">;

/** Audit entries; actors, targets and details were typed by other people, so they are text. */
export function AuditTable({ events, caption }: { events: AuditEvent[]; caption: string }) {
  const t = useT();
  const fmt = useFormat();
  return (
    <DataTable
      caption={caption}
      rows={events}
      rowKey={(e) => e.auditEventId ?? ""}
      empty={t("common.none")}
      columns={[
        { header: t("audit.time"), cell: (e) => fmt.dateTime(e.createTime) },
        { header: t("audit.action"), cell: (e) => e.action },
        { header: t("audit.actor"), cell: (e) => e.actor },
        { header: t("audit.target"), cell: (e) => e.target },
        {
          header: t("common.description"),
          cell: (e) => <code className="text-xs break-all">{JSON.stringify(e.details ?? {})}</code>,
        },
      ]}
    />
  );
}
