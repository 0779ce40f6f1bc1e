"use client";
// Filling a published form: the latest published version (kept for offline use) and the filler
// (src/components/form-filler.tsx), which validates with the server's rules before sending.
import { useSearchParams } from "next/navigation";
import dynamic from "next/dynamic";
import { Suspense, useEffect } from "react";
import { useQuery } from "@tanstack/react-query";
import type { JsonObject } from "@tenantmesh/form-engine";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert } from "@/components/error-alert";
import { Loading } from "@/components/loading";
import { Alert } from "@/components/ui/card";
import { api } from "@/lib/api";
import { useT } from "@/lib/i18n";
import { useActingTenant } from "@/lib/acting-tenant";
import { keepForm, keptForm } from "@/lib/offline-forms";
import { isTransient } from "@/lib/offline-queue";
import { sessionOwner, tokenTenant, useSession } from "@/lib/session";

// The filler and the form engine it runs come as a chunk of their own, fetched while the form is
// (see FillForm): the page's first load stays small; the service worker keeps the chunk offline.
const loadFiller = () => import("@/components/form-filler").then((m) => m.Filler);
const Filler = dynamic(loadFiller, { ssr: false, loading: Loading });

interface Published {
  title: string;
  version: number;
  definition: JsonObject;
}

/** The latest published version, fetched; kept in this browser for this person so the form can
 * be filled offline (src/lib/offline-forms.ts). */
async function latestPublished(tenant: string, formKey: string): Promise<Published | null> {
  const owner = sessionOwner(useSession.getState().tokens);
  try {
    const form = await api("FormService_GetForm", { path: { key: formKey } });
    const latest = form.form?.latestVersion ?? 0;
    if (latest === 0) return null;
    const version = await api("FormService_GetFormVersion", { path: { key: formKey, version: latest } });
    const published = {
      title: form.form?.title ?? formKey,
      version: latest,
      definition: (version.version?.definition ?? {}) as JsonObject,
    };
    keepForm(owner, tenant, formKey, published);
    return published;
  } catch (error) {
    const saved = keptForm<Published>(owner, tenant, formKey);
    if (isTransient(error) && saved) {
      return saved;
    }
    throw error;
  }
}

function FillForm() {
  const t = useT();
  const formKey = useSearchParams().get("key") ?? "";
  const tenant = useActingTenant((s) => s.tenantId) ?? tokenTenant(useSession.getState().tokens) ?? "";
  useEffect(() => {
    void loadFiller();
  }, []);
  const published = useQuery({
    queryKey: ["form-published", tenant, formKey],
    queryFn: () => latestPublished(tenant, formKey),
    enabled: formKey !== "",
  });
  return (
    <AppShell title={published.data?.title || t("nav.forms")}>
      <ErrorAlert error={published.error} />
      {published.data === null ? <Alert tone="info">{t("forms.notPublished")}</Alert> : null}
      {published.data ? (
        <Filler formKey={formKey} version={published.data.version} definition={published.data.definition} />
      ) : null}
    </AppShell>
  );
}

export default function FillFormPage() {
  return (
    <Suspense>
      <FillForm />
    </Suspense>
  );
}
