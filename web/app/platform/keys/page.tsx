"use client";
import { useMutation } from "@tanstack/react-query";
import { AppShell } from "@/components/app-shell";
import { ErrorAlert } from "@/components/error-alert";
import { Button } from "@/components/ui/button";
import { Alert, Card } from "@/components/ui/card";
import { Confirm } from "@/components/ui/confirm";
import { api } from "@/lib/api";
import { useT } from "@/lib/i18n";

export default function SigningKeysPage() {
  const t = useT();
  const rotate = useMutation({ mutationFn: () => api("SigningKeyService_RotateSigningKey", { body: {} }) });
  return (
    <AppShell title={t("keys.title")}>
      <Card>
        <Confirm
          trigger={<Button>{t("keys.rotate")}</Button>}
          title={t("keys.rotate")}
          confirmLabel={t("common.confirm")}
          cancelLabel={t("common.cancel")}
          onConfirm={() => rotate.mutate()}
        />
        {rotate.data ? (
          <Alert tone="success" className="mt-3">
            {t("keys.rotated", { kid: rotate.data.kid ?? "" })} ({(rotate.data.publishedKids ?? []).join(", ")})
          </Alert>
        ) : null}
        <ErrorAlert error={rotate.error} />
      </Card>
    </AppShell>
  );
}
