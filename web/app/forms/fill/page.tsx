"use client";
// Filling a published form: validated in the browser with the server's rules before it is sent;
// sent with a request id so it is stored once, and queued when the network is down.
import { useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import type { JsonObject } from "@tenantmesh/form-engine";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert } from "@/components/error-alert";
import { FormRenderer, useEvaluation } from "@/components/form-renderer";
import { Button } from "@/components/ui/button";
import { Alert, Card } from "@/components/ui/card";
import { api, TenantmeshError } from "@/lib/api";
import { useLocaleStore, useT } from "@/lib/i18n";
import { useActingTenant } from "@/lib/acting-tenant";
import { isTransient, sendOrQueue } from "@/lib/offline-queue";
import { tokenTenant, useSession } from "@/lib/session";

function Filler({ formKey, version, definition }: { formKey: string; version: number; definition: JsonObject }) {
  const t = useT();
  const locale = useLocaleStore((s) => s.locale);
  const [answers, setAnswers] = useState<JsonObject>({});
  const [requestId, setRequestId] = useState(() => crypto.randomUUID());
  const [tried, setTried] = useState(false);
  const [result, setResult] = useState<"sent" | "queued" | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const evaluation = useEvaluation(definition, answers, locale);
  const submit = async () => {
    setTried(true);
    setError(null);
    setServerErrors({});
    if (!evaluation.valid) {
      return;
    }
    try {
      const { queued } = await sendOrQueue("SubmissionService_SubmitForm", {
        path: { formKey },
        body: { version, answers: evaluation.answers, requestId, locale },
      });
      setResult(queued ? "queued" : "sent");
      setAnswers({});
      setTried(false);
      setRequestId(crypto.randomUUID());
    } catch (e) {
      if (e instanceof TenantmeshError) {
        // The server's violations at their fields (answers.<path> -> /<path>).
        setServerErrors(
          Object.fromEntries(
            e.fieldViolations.map((v) => [`/${v.field.replace(/^answers\.?/, "").replace(/\./g, "/")}`, v.description]),
          ),
        );
      }
      setError(e);
    }
  };
  return (
    <Card>
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
        className="flex flex-col gap-4"
      >
        <FormRenderer
          definition={definition}
          answers={answers}
          onChange={(next) => {
            setAnswers(next);
            setResult(null);
          }}
          locale={locale}
          showErrors={tried}
          serverErrors={serverErrors}
        />
        {tried && !evaluation.valid ? <Alert>{t("forms.fixErrors")}</Alert> : null}
        <ErrorAlert error={error} />
        {result === "sent" ? <Alert tone="success" data-testid="submitted">{t("forms.sent")}</Alert> : null}
        {result === "queued" ? <Alert tone="info" data-testid="queued">{t("forms.queued")}</Alert> : null}
        <div>
          <Button type="submit">{t("forms.submit")}</Button>
        </div>
      </form>
    </Card>
  );
}

interface Published {
  title: string;
  version: number;
  definition: JsonObject;
}

/** The latest published version, fetched; kept in this browser so the form can be filled
 * offline (a published version never changes, so the copy stays right for that version). */
async function latestPublished(tenant: string, formKey: string): Promise<Published | null> {
  const storageKey = `tm.form.${tenant}.${formKey}`;
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
    window.localStorage.setItem(storageKey, JSON.stringify(published));
    return published;
  } catch (error) {
    const saved = window.localStorage.getItem(storageKey);
    if (isTransient(error) && saved) {
      return JSON.parse(saved) as Published;
    }
    throw error;
  }
}

function FillForm() {
  const t = useT();
  const formKey = useSearchParams().get("key") ?? "";
  const tenant = useActingTenant((s) => s.tenantId) ?? tokenTenant(useSession.getState().tokens) ?? "";
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
