"use client";
// The signed-in frame: skip link, header (tenant, tenant switcher, language, sign out), the
// navigation (only what the caller may use) and the page. Without a session it sends the
// person to sign in and back here afterwards.

import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useEffect, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api } from "@/lib/api";
import { useActingTenant } from "@/lib/acting-tenant";
import { useErrorText, useFormat, useT } from "@/lib/i18n";
import { useMe } from "@/lib/me";
import type { NavNode } from "@/lib/navigation";
import { useNavigation } from "@/lib/use-navigation";
import { discardPersonsForms } from "@/lib/offline-forms";
import { discardPersonsQueue, dismissRefused, personsQueue, refusalOf, useOfflineQueue, useOwnQueue } from "@/lib/offline-queue";
import { sessionOwner, tokensFrom, useSession } from "@/lib/session";
import { LocaleSwitcher } from "./locale-switcher";
import { Button } from "./ui/button";
import { Alert } from "./ui/card";
import { Confirm } from "./ui/confirm";
import { Input } from "./ui/input";

export function AppShell({ title, children }: { title: string; children: ReactNode }) {
  const t = useT();
  const router = useRouter();
  const pathname = usePathname();
  const tokens = useSession((s) => s.tokens);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    setReady(true);
    if (!tokens) {
      router.replace(`/login?next=${encodeURIComponent(pathname)}`);
    }
  }, [tokens, router, pathname]);
  useEffect(() => {
    document.title = `${title} · ${t("app.name")}`;
  }, [title, t]);
  if (!ready || !tokens) {
    return <p className="p-6">{t("app.loading")}</p>;
  }
  return (
    <div className="flex min-h-screen flex-col">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:bg-white focus:p-2">
        {t("app.skip")}
      </a>
      <Header />
      <OfflineBanner />
      <div className="flex flex-1">
        <Navigation />
        <main id="main" tabIndex={-1} className="flex-1 p-6">
          <h1 className="mb-4 text-2xl font-semibold">{title}</h1>
          {children}
        </main>
      </div>
    </div>
  );
}

function Header() {
  const t = useT();
  const me = useMe();
  const router = useRouter();
  const queryClient = useQueryClient();
  const { tokens, setTokens } = useSession();
  const acting = useActingTenant();
  const queued = useOfflineQueue((s) => s.items);
  const unsent = personsQueue(queued, sessionOwner(tokens)).length;
  const signOut = async () => {
    // What the person queued offline is theirs: it leaves the device with them (the dialog
    // below says so first), and the next person to sign in here cannot send it. So do the forms
    // they kept for filling offline.
    discardPersonsQueue(sessionOwner(tokens));
    discardPersonsForms(sessionOwner(tokens));
    try {
      if (tokens) {
        await api("AuthService_Logout", { body: {} });
      }
    } catch {
      // Signing out locally is what matters; the session ends on its own otherwise.
    }
    setTokens(null);
    acting.actIn(null);
    queryClient.clear();
    router.replace("/login");
  };
  const name = me.data?.user?.displayName || me.data?.user?.email || me.data?.subject || "";
  return (
    <header className="flex flex-wrap items-center justify-between gap-3 border-b border-slate-300 bg-white px-6 py-3">
      <Link href="/dashboard" className="font-semibold">
        {t("app.name")}
      </Link>
      <div className="flex flex-wrap items-center gap-3 text-sm">
        {acting.tenantId ? (
          <span data-testid="acting-tenant">
            {t("app.tenant")}: {acting.label ?? acting.tenantId}{" "}
            <Button variant="ghost" size="sm" onClick={() => acting.actIn(null)}>
              {t("common.close")}
            </Button>
          </span>
        ) : null}
        <TenantSwitcher />
        <span data-testid="signed-in-as">{name ? t("app.signedInAs", { name }) : null}</span>
        <LocaleSwitcher />
        {unsent > 0 ? (
          <Confirm
            trigger={
              <Button variant="outline" size="sm">
                {t("app.signOut")}
              </Button>
            }
            title={t("app.signOutUnsent", { count: unsent })}
            confirmLabel={t("app.signOut")}
            cancelLabel={t("common.cancel")}
            destructive
            onConfirm={() => void signOut()}
          />
        ) : (
          <Button variant="outline" size="sm" onClick={() => void signOut()}>
            {t("app.signOut")}
          </Button>
        )}
      </div>
    </header>
  );
}

/** For people with memberships in several tenants: a new session in the other tenant. */
function TenantSwitcher() {
  const t = useT();
  const [tenant, setTenant] = useState("");
  const [error, setError] = useState("");
  const setTokens = useSession((s) => s.setTokens);
  const queryClient = useQueryClient();
  return (
    <form
      className="flex items-center gap-1"
      onSubmit={(event) => {
        event.preventDefault();
        setError("");
        api("AuthService_SwitchTenant", { body: { tenant } })
          .then((answer) => {
            setTokens(tokensFrom(answer.tokens));
            useActingTenant.getState().actIn(null);
            queryClient.clear();
            setTenant("");
          })
          .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
      }}
    >
      <Input
        aria-label={t("app.switchTenant")}
        placeholder={t("app.switchTenant")}
        className="h-8 w-36"
        value={tenant}
        onChange={(event) => setTenant(event.target.value)}
      />
      <Button type="submit" variant="outline" size="sm" disabled={!tenant}>
        {t("app.switch")}
      </Button>
      {error ? <span role="alert" className="text-xs text-red-800">{error}</span> : null}
    </form>
  );
}

function Navigation() {
  const t = useT();
  const nodes = useNavigation();
  return (
    <nav aria-label={t("app.navigation")} className="w-56 shrink-0 border-r border-slate-300 bg-white p-3">
      <NavList nodes={nodes} testId="navigation" />
    </nav>
  );
}

/** Links and sections; every label from the server is text, never markup. */
function NavList({ nodes, testId }: { nodes: NavNode[]; testId?: string }) {
  const t = useT();
  const pathname = usePathname();
  return (
    <ul className="flex flex-col gap-1" data-testid={testId}>
      {nodes.map((node) => {
        const text = node.text ?? (node.label ? t(node.label) : "");
        return (
          <li key={node.key}>
            {node.href && node.external ? (
              <a href={node.href} rel="noopener noreferrer" className="block rounded px-2 py-1 text-sm hover:bg-slate-100">
                {text}
              </a>
            ) : node.href ? (
              <Link
                href={node.href}
                aria-current={pathname === node.href.split("?")[0] ? "page" : undefined}
                className="block rounded px-2 py-1 text-sm hover:bg-slate-100 aria-[current=page]:bg-blue-100 aria-[current=page]:font-semibold"
              >
                {text}
              </Link>
            ) : (
              <span className="block px-2 pt-2 text-xs font-semibold tracking-wide text-slate-700 uppercase">{text}</span>
            )}
            {node.children.length > 0 ? (
              <div className="pl-2">
                <NavList nodes={node.children} />
              </div>
            ) : null}
          </li>
        );
      })}
    </ul>
  );
}

function OfflineBanner() {
  const t = useT();
  const errorText = useErrorText();
  const fmt = useFormat();
  const queue = useOwnQueue();
  const owner = useSession((s) => sessionOwner(s.tokens));
  const [online, setOnline] = useState(true);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    update();
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    return () => {
      window.removeEventListener("online", update);
      window.removeEventListener("offline", update);
    };
  }, []);
  const waiting = queue.waiting.length;
  return (
    <>
      {!online || waiting > 0 ? (
        <Alert tone="info" className="m-3" data-testid="offline-banner">
          {!online ? t("app.offline") : null} {waiting > 0 ? t("app.queued", { count: waiting }) : null}
        </Alert>
      ) : null}
      {queue.refused.length > 0 ? (
        <Alert tone="error" className="m-3" data-testid="queue-refused">
          <p>{t("app.queueRefused", { count: queue.refused.length })}</p>
          <ul className="my-2 list-disc pl-5">
            {queue.refused.map((item) => (
              <li key={item.id} title={item.error}>
                {fmt.dateTime(item.queuedAt)}: {errorText(refusalOf(item))}
              </li>
            ))}
          </ul>
          <Button variant="outline" size="sm" onClick={() => dismissRefused(owner)}>
            {t("common.close")}
          </Button>
        </Alert>
      ) : null}
    </>
  );
}
