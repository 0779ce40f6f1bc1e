"use client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import { useActingTenant } from "@/lib/acting-tenant";
import { storedLocale, useLocaleStore } from "@/lib/i18n";
import { startOfflineQueue } from "@/lib/offline-queue";
import { sessionOwner, useSession } from "@/lib/session";

export function Providers({ children }: { children: ReactNode }) {
  const [client] = useState(
    () =>
      new QueryClient({
        defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } },
      }),
  );
  const locale = useLocaleStore((s) => s.locale);
  useEffect(() => {
    useLocaleStore.setState({ locale: storedLocale() });
  }, []);
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  // Whatever was read in one person's session stays with it: when the session ends (signed out,
  // revoked, expired) or another begins in this tab, the answers held in memory and the tenant
  // acted in are dropped, so the next person to sign in here sees none of them, even for the
  // moment before their own answers arrive.
  useEffect(
    () =>
      useSession.subscribe((state, previous) => {
        if (sessionOwner(state.tokens) !== sessionOwner(previous.tokens)) {
          client.clear();
          useActingTenant.getState().actIn(null);
        }
      }),
    [client],
  );
  useEffect(() => {
    if ("serviceWorker" in navigator && process.env.NODE_ENV === "production") {
      void navigator.serviceWorker.register("/sw.js", { scope: "/" });
    }
    return startOfflineQueue();
  }, []);
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}
