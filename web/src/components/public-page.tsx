"use client";
import { useEffect, type ReactNode } from "react";
import { useT } from "@/lib/i18n";
import { LocaleSwitcher } from "./locale-switcher";
import { Card } from "./ui/card";

/** The frame of the pages reached without a session: sign-in, invitations, password reset. */
export function PublicPage({ title, children }: { title: string; children: ReactNode }) {
  const t = useT();
  // The tab's title in the chosen language too (the exported page's own is English).
  useEffect(() => {
    document.title = `${title} · ${t("app.name")}`;
  }, [title, t]);
  return (
    <div className="flex min-h-screen flex-col">
      <header className="flex items-center justify-between border-b border-slate-300 bg-white px-6 py-3">
        <span className="font-semibold">{t("app.name")}</span>
        <LocaleSwitcher />
      </header>
      <main id="main" className="mx-auto mt-12 w-full max-w-md px-4">
        <Card>
          <h1 className="mb-4 text-xl font-semibold">{title}</h1>
          {children}
        </Card>
      </main>
    </div>
  );
}
