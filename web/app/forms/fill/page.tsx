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
import { sendOrQueue } from "@/lib/offline-queue";

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

function FillForm() {
  const t = useT();
  const formKey = useSearchParams().get("key") ?? "";
  const form = useQuery({
    queryKey: ["form", formKey],
    queryFn: () => api("FormService_GetForm", { path: { key: formKey } }),
    enabled: formKey !== "",
  });
  const latest = form.data?.form?.latestVersion ?? 0;
  const version = useQuery({
    queryKey: ["form-version", formKey, latest],
    queryFn: () => api("FormService_GetFormVersion", { path: { key: formKey, version: latest } }),
    enabled: latest > 0,
  });
  const definition = version.data?.version?.definition as JsonObject | undefined;
  return (
    <AppShell title={form.data?.form?.title || t("nav.forms")}>
      <ErrorAlert error={form.error ?? version.error} />
      {form.data && latest === 0 ? <Alert tone="info">{t("forms.notPublished")}</Alert> : null}
      {definition ? <Filler formKey={formKey} version={latest} definition={definition} /> : null}
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
