"use client";
// The page the invitation mail links to: /invitations/accept?token=…  The invitee sees the
// tenant and roles, then makes a new account homed there, or (signed in) joins with theirs.
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import { useForm } from "react-hook-form";
import { useQuery } from "@tanstack/react-query";
import { ErrorAlert, fieldError } from "@/components/error-alert";
import { PublicPage } from "@/components/public-page";
import { Button } from "@/components/ui/button";
import { Alert } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { api, publicApi } from "@/lib/api";
import { useT } from "@/lib/i18n";
import { useSession } from "@/lib/session";

function AcceptInvitation() {
  const t = useT();
  const token = useSearchParams().get("token") ?? "";
  const signedIn = useSession((s) => s.tokens !== null);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const invitation = useQuery({
    queryKey: ["invitation", token],
    queryFn: () => publicApi("AuthService_GetInvitation", { body: { token } }),
    enabled: token !== "",
  });
  const form = useForm<{ displayName: string; password: string }>({ defaultValues: { displayName: "", password: "" } });
  const tenant = invitation.data?.tenant ?? "";
  const accept = form.handleSubmit(async (values) => {
    setError(null);
    try {
      await publicApi("AuthService_AcceptInvitation", { body: { token, ...values } });
      setDone(true);
    } catch (e) {
      setError(e);
    }
  });
  const acceptAsMe = async () => {
    setError(null);
    try {
      await api("AuthService_AcceptInvitationAsMe", { body: { token } });
      setDone(true);
    } catch (e) {
      setError(e);
    }
  };
  if (!token || invitation.isError) {
    return (
      <PublicPage title={t("invite.title")}>
        <Alert>{t("invite.invalid")}</Alert>
      </PublicPage>
    );
  }
  if (!invitation.data) {
    return (
      <PublicPage title={t("invite.title")}>
        <p>{t("app.loading")}</p>
      </PublicPage>
    );
  }
  return (
    <PublicPage title={t("invite.title")}>
      {done ? (
        <Alert tone="success">
          {t("invite.done", { tenant })}{" "}
          <Link href={`/login?tenant=${encodeURIComponent(tenant)}`} className="underline">
            {t("login.title")}
          </Link>
        </Alert>
      ) : (
        <div className="flex flex-col gap-4">
          <p data-testid="invitation-summary">
            {t("invite.summary", { tenant, roles: (invitation.data.roles ?? []).join(", ") })}
          </p>
          <form onSubmit={accept} className="flex flex-col gap-3">
            <Field label={t("invite.displayName")} error={fieldError(error, "display_name")}>
              <Input autoComplete="name" {...form.register("displayName")} />
            </Field>
            <Field label={t("invite.password")} error={fieldError(error, "password")}>
              <Input type="password" autoComplete="new-password" {...form.register("password", { required: true })} />
            </Field>
            <Button type="submit">{t("invite.accept")}</Button>
          </form>
          {signedIn ? (
            <Button variant="outline" onClick={() => void acceptAsMe()}>
              {t("invite.acceptAsMe")}
            </Button>
          ) : null}
          <ErrorAlert error={error} />
        </div>
      )}
    </PublicPage>
  );
}

export default function AcceptInvitationPage() {
  return (
    <Suspense>
      <AcceptInvitation />
    </Suspense>
  );
}
