"use client";
// One service of the catalogue, for the platform's operators: its description edited (with the
// etag it was read with), its versions, and a new version registered from a contract file with
// the compatibility result — the breaking changes the registry found, refused unless accepted.

import { useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { Schema } from "@tenantmesh/sdk";
import { ErrorAlert, fieldError } from "@/components/error-alert";
import { Button } from "@/components/ui/button";
import { Alert, Card } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { DataTable } from "@/components/ui/table";
import { api, TenantmeshError } from "@/lib/api";
import { breaksOf, contractOf, type Contract } from "@/lib/contracts";
import { useFormat, useT } from "@/lib/i18n";
import { stateName } from "@/lib/tenants";

type Service = Schema<"tenantmesh.registry.v1.Service">;

export function ServiceEditor({ service, onClose }: { service: Service; onClose: () => void }) {
  const t = useT();
  const fmt = useFormat();
  const queryClient = useQueryClient();
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["catalog"] });
  const name = service.name ?? "";
  const [details, setDetails] = useState({
    displayName: service.displayName ?? "",
    description: service.description ?? "",
    owner: service.owner ?? "",
  });
  const update = useMutation({
    mutationFn: () =>
      api("CatalogService_UpdateService", {
        path: { name },
        query: { updateMask: "display_name,description,owner" },
        body: { ...details, etag: service.etag } as never,
      }),
    onSuccess: refresh,
  });
  const [version, setVersion] = useState("");
  const [contract, setContract] = useState<Contract | null>(null);
  const [contractProblem, setContractProblem] = useState(false);
  const [force, setForce] = useState(false);
  const register = useMutation({
    mutationFn: () =>
      api("CatalogService_RegisterServiceVersion", {
        path: { service: name },
        query: { force: force || undefined } as never,
        body: { version, ...(contract ?? {}) } as never,
      }),
    onSuccess: refresh,
  });
  const refusedBreaks =
    register.error instanceof TenantmeshError && register.error.reason === "CONTRACT_BREAKING" ? breaksOf(register.error.metadata) : [];
  const forcedBreaks = (register.data?.forcedBreaks ?? []).map((b) => `${b.kind ?? ""} ${b.subject ?? ""}: ${b.description ?? ""}`);
  return (
    <Card>
      <div className="mb-3 flex items-center justify-between">
        <h2 className="text-lg font-semibold">{t("services.manage", { name })}</h2>
        <Button variant="outline" size="sm" onClick={onClose}>
          {t("common.close")}
        </Button>
      </div>
      <form
        className="grid gap-3 sm:grid-cols-3"
        onSubmit={(event) => {
          event.preventDefault();
          update.mutate();
        }}
      >
        <Field label={t("services.displayName")} error={fieldError(update.error, "display_name")}>
          <Input value={details.displayName} onChange={(e) => setDetails({ ...details, displayName: e.target.value })} />
        </Field>
        <Field label={t("common.description")} error={fieldError(update.error, "description")}>
          <Input value={details.description} onChange={(e) => setDetails({ ...details, description: e.target.value })} />
        </Field>
        <Field label={t("services.owner")} error={fieldError(update.error, "owner")}>
          <Input value={details.owner} onChange={(e) => setDetails({ ...details, owner: e.target.value })} />
        </Field>
        <div className="sm:col-span-3">
          <Button type="submit" disabled={update.isPending}>
            {t("common.save")}
          </Button>
        </div>
      </form>
      <ErrorAlert error={update.error} />
      {update.isSuccess ? <Alert tone="success" className="mt-2">{t("services.saved")}</Alert> : null}

      <h3 className="mt-5 mb-2 font-semibold">{t("services.versions")}</h3>
      <DataTable
        caption={t("services.versionsOf", { name })}
        rows={service.versions ?? []}
        rowKey={(v) => v.version ?? ""}
        empty={t("common.none")}
        columns={[
          { header: t("services.version"), cell: (v) => v.version },
          { header: t("services.contract"), cell: (v) => stateName(v.contractFormat, "CONTRACT_FORMAT_") },
          { header: t("common.created"), cell: (v) => fmt.dateTime(v.createTime) },
        ]}
      />
      <form
        className="mt-3 grid gap-3 sm:grid-cols-2"
        onSubmit={(event) => {
          event.preventDefault();
          register.mutate();
        }}
      >
        <Field label={t("services.version")} error={fieldError(register.error, "version.version")}>
          <Input required value={version} onChange={(e) => setVersion(e.target.value)} placeholder="1.2.0" />
        </Field>
        <Field label={t("services.contractFile")} help={t("services.contractHelp")} error={contractProblem ? t("services.contractInvalid") : undefined}>
          <input
            type="file"
            accept=".binpb,.pb,.json"
            className="text-sm file:mr-3 file:rounded-md file:border file:border-slate-500 file:bg-white file:px-3 file:py-1"
            onChange={async (event) => {
              const file = event.target.files?.[0];
              const parsed = file ? contractOf(file.name, new Uint8Array(await file.arrayBuffer())) : null;
              setContract(parsed);
              setContractProblem(file !== undefined && parsed === null);
            }}
          />
        </Field>
        <label className="flex items-center gap-2 text-sm sm:col-span-2">
          <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
          {t("services.force")}
        </label>
        <div className="sm:col-span-2">
          <Button type="submit" disabled={register.isPending || !version || !contract}>
            {t("services.registerVersion")}
          </Button>
        </div>
      </form>
      {refusedBreaks.length > 0 ? (
        <Alert className="mt-3" data-testid="compatibility">
          {t("services.breaking", { count: refusedBreaks.length })}
          <ul className="mt-1 list-disc pl-5">
            {refusedBreaks.map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        </Alert>
      ) : (
        <ErrorAlert error={register.error} />
      )}
      {register.isSuccess ? (
        <Alert tone="success" className="mt-3" data-testid="compatibility">
          {forcedBreaks.length > 0 ? t("services.forced", { version, count: forcedBreaks.length }) : t("services.compatible", { version })}
          {forcedBreaks.length > 0 ? (
            <ul className="mt-1 list-disc pl-5">
              {forcedBreaks.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          ) : null}
        </Alert>
      ) : null}
    </Card>
  );
}
