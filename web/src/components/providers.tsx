"use client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import { storedLocale, useLocaleStore } from "@/lib/i18n";
import { startOfflineQueue } from "@/lib/offline-queue";

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
  useEffect(() => {
    if ("serviceWorker" in navigator && process.env.NODE_ENV === "production") {
      void navigator.serviceWorker.register("/sw.js", { scope: "/" });
    }
    return startOfflineQueue();
  }, []);
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}
