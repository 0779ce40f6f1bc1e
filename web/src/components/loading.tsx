"use client";
import { useT } from "@/lib/i18n";

/** What shows while a part of a page loads. */
export function Loading() {
  const t = useT();
  return <p className="p-2 text-sm">{t("app.loading")}</p>;
}
