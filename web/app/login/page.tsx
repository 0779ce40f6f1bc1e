"use client";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import { useForm } from "react-hook-form";
import { PublicPage } from "@/components/public-page";
import { Button } from "@/components/ui/button";
import { Alert } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { publicApi, TenantmeshError } from "@/lib/api";
import { useT } from "@/lib/i18n";
import { safeNext } from "@/lib/redirect";
import { tokensFrom, useSession, type TokenSetJson } from "@/lib/session";

interface Credentials {
  tenant: string;
  email: string;
  password: string;
}

function LoginForm() {
  const t = useT();
  const router = useRouter();
  const params = useSearchParams();
  const setTokens = useSession((s) => s.setTokens);
  const [failure, setFailure] = useState("");
  const [challenge, setChallenge] = useState<{ token: string; enrolmentRequired: boolean } | null>(null);
  const form = useForm<Credentials>({ defaultValues: { tenant: params.get("tenant") ?? "", email: "", password: "" } });
  const mfa = useForm<{ code: string }>({ defaultValues: { code: "" } });

  const signedIn = (tokens: TokenSetJson | undefined) => {
    setTokens(tokensFrom(tokens));
    router.replace(safeNext(params.get("next")));
  };

  const login = form.handleSubmit(async (values) => {
    setFailure("");
    try {
      const answer = await publicApi("AuthService_Login", { body: values });
      if (answer.mfaChallenge?.challengeToken) {
        setChallenge({
          token: answer.mfaChallenge.challengeToken,
          enrolmentRequired: answer.mfaChallenge.enrolmentRequired ?? false,
        });
        return;
      }
      signedIn(answer.tokens);
    } catch (error) {
      setFailure(error instanceof TenantmeshError && error.status === 429 ? t("login.locked") : t("login.failed"));
    }
  });

  const verify = mfa.handleSubmit(async ({ code }) => {
    setFailure("");
    try {
      const answer = await publicApi("AuthService_CompleteMfaChallenge", {
        body: { challengeToken: challenge?.token ?? "", code },
      });
      signedIn(answer.tokens);
    } catch {
      setFailure(t("login.mfaFailed"));
    }
  });

  if (challenge) {
    return (
      <PublicPage title={t("login.mfaTitle")}>
        <form onSubmit={verify} className="flex flex-col gap-3">
          {challenge.enrolmentRequired ? <Alert tone="info">{t("login.mfaEnrolRequired")}</Alert> : null}
          <Field label={t("login.mfaCode")}>
            <Input autoComplete="one-time-code" autoFocus {...mfa.register("code", { required: true })} />
          </Field>
          {failure ? <Alert>{failure}</Alert> : null}
          <Button type="submit">{t("login.mfaSubmit")}</Button>
        </form>
      </PublicPage>
    );
  }
  return (
    <PublicPage title={t("login.title")}>
      <form onSubmit={login} className="flex flex-col gap-3">
        <Field label={t("login.tenant")} help={t("login.tenantHelp")}>
          <Input autoComplete="organization" {...form.register("tenant", { required: true })} />
        </Field>
        <Field label={t("login.email")}>
          <Input type="email" autoComplete="username" {...form.register("email", { required: true })} />
        </Field>
        <Field label={t("login.password")}>
          <Input type="password" autoComplete="current-password" {...form.register("password", { required: true })} />
        </Field>
        {failure ? <Alert>{failure}</Alert> : null}
        <Button type="submit" disabled={form.formState.isSubmitting}>
          {t("login.submit")}
        </Button>
        <Link href="/forgot-password" className="text-sm text-blue-800 underline">
          {t("login.forgot")}
        </Link>
      </form>
    </PublicPage>
  );
}

export default function LoginPage() {
  return (
    <Suspense>
      <LoginForm />
    </Suspense>
  );
}
