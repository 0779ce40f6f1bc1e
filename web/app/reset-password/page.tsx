"use client";
// The page the password-reset mail links to: /reset-password?token=…
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import { useForm } from "react-hook-form";
import { ErrorAlert, fieldError } from "@/components/error-alert";
import { PublicPage } from "@/components/public-page";
import { Button } from "@/components/ui/button";
import { Alert } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { publicApi, TenantmeshError } from "@/lib/api";
import { useT } from "@/lib/i18n";

function ResetPassword() {
  const t = useT();
  const token = useSearchParams().get("token") ?? "";
  const [state, setState] = useState<"form" | "done" | "invalid">("form");
  const [error, setError] = useState<unknown>(null);
  const form = useForm<{ newPassword: string }>({ defaultValues: { newPassword: "" } });
  const submit = form.handleSubmit(async ({ newPassword }) => {
    setError(null);
    try {
      await publicApi("AuthService_CompletePasswordReset", { body: { token, newPassword } });
      setState("done");
    } catch (e) {
      if (e instanceof TenantmeshError && e.status === 404) {
        setState("invalid");
      } else {
        setError(e);
      }
    }
  });
  return (
    <PublicPage title={t("reset.title")}>
      {state === "done" ? (
        <Alert tone="success">
          {t("reset.done")}{" "}
          <Link href="/login" className="underline">
            {t("login.title")}
          </Link>
        </Alert>
      ) : state === "invalid" ? (
        <Alert>{t("reset.invalid")}</Alert>
      ) : (
        <form onSubmit={submit} className="flex flex-col gap-3">
          <Field label={t("reset.newPassword")} error={fieldError(error, "new_password")}>
            <Input type="password" autoComplete="new-password" {...form.register("newPassword", { required: true })} />
          </Field>
          <ErrorAlert error={error} />
          <Button type="submit">{t("reset.submit")}</Button>
        </form>
      )}
    </PublicPage>
  );
}

export default function ResetPasswordPage() {
  return (
    <Suspense>
      <ResetPassword />
    </Suspense>
  );
}
