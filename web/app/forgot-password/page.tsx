"use client";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { ErrorAlert } from "@/components/error-alert";
import { PublicPage } from "@/components/public-page";
import { Button } from "@/components/ui/button";
import { Alert } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { publicApi } from "@/lib/api";
import { useLocaleStore, useT } from "@/lib/i18n";

export default function ForgotPasswordPage() {
  const t = useT();
  const locale = useLocaleStore((s) => s.locale);
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const form = useForm<{ tenant: string; email: string }>({ defaultValues: { tenant: "", email: "" } });
  const submit = form.handleSubmit(async (values) => {
    setError(null);
    try {
      await publicApi("AuthService_RequestPasswordReset", { body: { ...values, locale } });
      setSent(true);
    } catch (e) {
      setError(e);
    }
  });
  return (
    <PublicPage title={t("reset.requestTitle")}>
      {sent ? (
        <Alert tone="success">{t("reset.requestSent")}</Alert>
      ) : (
        <form onSubmit={submit} className="flex flex-col gap-3">
          <Field label={t("login.tenant")} help={t("login.tenantHelp")}>
            <Input {...form.register("tenant", { required: true })} />
          </Field>
          <Field label={t("login.email")}>
            <Input type="email" autoComplete="email" {...form.register("email", { required: true })} />
          </Field>
          <ErrorAlert error={error} />
          <Button type="submit">{t("reset.requestSubmit")}</Button>
        </form>
      )}
    </PublicPage>
  );
}
