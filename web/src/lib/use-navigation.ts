"use client";
import { useQuery } from "@tanstack/react-query";
import { useRef } from "react";
import { api } from "./api";
import { useLocaleStore } from "./i18n";
import { useMe } from "./me";
import { buildNavigation, type MenuItem, type NavNode } from "./navigation";
import { tokenTenant, useSession } from "./session";

/** How often the menu is asked again: a role change shows within about this long. The answer
 * carries an etag, so an unchanged menu costs one small "not modified" reply. */
const MENU_POLL_MS = 1_000;

/** GetMyMenu in the user's locale, kept fresh. */
export function useMyMenu() {
  const tokens = useSession((s) => s.tokens);
  const locale = useLocaleStore((s) => s.locale);
  const tenantId = tokenTenant(tokens);
  const last = useRef<{ etag: string; items: MenuItem[]; locale: string } | null>(null);
  return useQuery({
    queryKey: ["my-menu", tenantId, locale, tokens?.refreshToken],
    queryFn: async () => {
      const previous = last.current?.locale === locale ? last.current : null;
      const answer = await api("MenuService_GetMyMenu", {
        query: { locale, ifNoneMatch: previous?.etag },
        tenantId,
      });
      if (answer.notModified && previous) {
        return previous.items;
      }
      const items = (answer.items ?? []) as MenuItem[];
      last.current = { etag: answer.etag ?? "", items, locale };
      return items;
    },
    enabled: tokens !== null,
    refetchInterval: MENU_POLL_MS,
  });
}

/** The navigation the signed-in person may use. */
export function useNavigation(): NavNode[] {
  const me = useMe();
  const menu = useMyMenu();
  return buildNavigation(menu.data ?? [], me.data?.permissions ?? []);
}
