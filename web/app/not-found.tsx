"use client";
import Link from "next/link";
import { PublicPage } from "@/components/public-page";
import { useT } from "@/lib/i18n";

export default function NotFound() {
  const t = useT();
  return (
    <PublicPage title={t("notFound.title")}>
      <Link href="/dashboard" className="underline">
        {t("nav.dashboard")}
      </Link>
    </PublicPage>
  );
}
