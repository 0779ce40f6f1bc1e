"use client";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState, type FormEvent } from "react";
import { PublicPage } from "@/components/public-page";
import { Button } from "@/components/ui/button";
import { Alert } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { publicApi } from "@/lib/api";
import { errorDetails } from "@/lib/errors";
import { useErrorText, useT } from "@/lib/i18n";
import { safeNext } from "@/lib/redirect";
import { tokensFrom, useSession, type TokenSetJson } from "@/lib/session";

interface Credentials {
  tenant: string;
  email: string;
  password: string;
}

function LoginForm() {
  const t = useT();
  const errorText = useErrorText();
  const router = useRouter();
  const params = useSearchParams();
  const setTokens = useSession((s) => s.setTokens);
  const [failure, setFailure] = useState("");
  const [challenge, setChallenge] = useState<{ token: string; enrolmentRequired: boolean } | null>(null);
  const [submitting, setSubmitting] = useState(false);

  // Wrong credentials, a lockout with its wait, a stale challenge: worded by the reason; what the
  // server said goes to the console log for support, not on the page.
  const refused = (error: unknown) => {
    console.warn("sign-in refused:", errorDetails(error));
    setFailure(errorText(error));
  };

  const signedIn = (tokens: TokenSetJson | undefined) => {
    setTokens(tokensFrom(tokens));
    router.replace(safeNext(params.get("next")));
  };

  // Plain form fields (the browser checks `required`): sign-in is the first page most people
  // load, so it carries no form library.
  const login = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const values: Credentials = {
      tenant: String(data.get("tenant") ?? ""),
      email: String(data.get("email") ?? ""),
      password: String(data.get("password") ?? ""),
    };
    setFailure("");
    setSubmitting(true);
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
      refused(error);
    } finally {
      setSubmitting(false);
    }
  };

  const verify = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const code = String(new FormData(event.currentTarget).get("code") ?? "");
    setFailure("");
    try {
      const answer = await publicApi("AuthService_CompleteMfaChallenge", {
        body: { challengeToken: challenge?.token ?? "", code },
      });
      signedIn(answer.tokens);
    } catch (error) {
      refused(error);
    }
  };

  if (challenge) {
    return (
      <PublicPage title={t("login.mfaTitle")}>
        <form onSubmit={(event) => void verify(event)} className="flex flex-col gap-3">
          {challenge.enrolmentRequired ? <Alert tone="info">{t("login.mfaEnrolRequired")}</Alert> : null}
          <Field label={t("login.mfaCode")}>
            <Input autoComplete="one-time-code" autoFocus name="code" required />
          </Field>
          {failure ? <Alert>{failure}</Alert> : null}
          <Button type="submit">{t("login.mfaSubmit")}</Button>
        </form>
      </PublicPage>
    );
  }
  return (
    <PublicPage title={t("login.title")}>
      <form onSubmit={(event) => void login(event)} className="flex flex-col gap-3">
        <Field label={t("login.tenant")} help={t("login.tenantHelp")}>
          <Input autoComplete="organization" name="tenant" required defaultValue={params.get("tenant") ?? ""} />
        </Field>
        <Field label={t("login.email")}>
          <Input type="email" autoComplete="username" name="email" required />
        </Field>
        <Field label={t("login.password")}>
          <Input type="password" autoComplete="current-password" name="password" required />
        </Field>
        {failure ? <Alert>{failure}</Alert> : null}
        <Button type="submit" disabled={submitting}>
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
