"use client";
// The page the verification mail links to: /verify-email?token=… (confirmed on load).
import { useSearchParams } from "next/navigation";
import { Suspense, useEffect, useRef, useState } from "react";
import { PublicPage } from "@/components/public-page";
import { Alert } from "@/components/ui/card";
import { publicApi } from "@/lib/api";
import { useT } from "@/lib/i18n";

function VerifyEmail() {
  const t = useT();
  const token = useSearchParams().get("token") ?? "";
  const [state, setState] = useState<"pending" | "done" | "invalid">("pending");
  const sent = useRef(false);
  useEffect(() => {
    if (sent.current) {
      return; // once, even under React's double effects in development
    }
    sent.current = true;
    publicApi("AuthService_VerifyEmail", { body: { token } })
      .then(() => setState("done"))
      .catch(() => setState("invalid"));
  }, [token]);
  return (
    <PublicPage title={t("verify.title")}>
      {state === "pending" ? <p>{t("app.loading")}</p> : null}
      {state === "done" ? <Alert tone="success">{t("verify.done")}</Alert> : null}
      {state === "invalid" ? <Alert>{t("verify.invalid")}</Alert> : null}
    </PublicPage>
  );
}

export default function VerifyEmailPage() {
  return (
    <Suspense>
      <VerifyEmail />
    </Suspense>
  );
}
