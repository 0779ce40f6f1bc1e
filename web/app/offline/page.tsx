"use client";
import { PublicPage } from "@/components/public-page";
import { useT } from "@/lib/i18n";

/** What the service worker shows for a page it has not cached while the network is down. */
export default function OfflinePage() {
  const t = useT();
  return (
    <PublicPage title={t("offline.title")}>
      <p>{t("offline.body")}</p>
    </PublicPage>
  );
}
