"use client";
// Filling a published form: validated in the browser with the server's rules (the form engine)
// before it is sent; sent with a request id so it is stored once, and queued when the network is
// down. Loaded on its own (the engine's schema compiler is most of its weight): see the page.
import { useState } from "react";
import type { JsonObject } from "@tenantmesh/form-engine";
import { ErrorAlert } from "@/components/error-alert";
import { FormRenderer, useEvaluation } from "@/components/form-renderer";
import { Button } from "@/components/ui/button";
import { Alert, Card } from "@/components/ui/card";
import { TenantmeshError } from "@/lib/api";
import { useLocaleStore, useT } from "@/lib/i18n";
import { sendOrQueue } from "@/lib/offline-queue";

export function Filler({ formKey, version, definition }: { formKey: string; version: number; definition: JsonObject }) {
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
