"use client";
import type { MessageKey } from "./messages";
import { useMe } from "./me";
import { visibleEntries } from "./navigation";

export interface ShownEntry {
  href: string;
  label: MessageKey;
  /** A label from the server (the menus service), shown as text. */
  text?: string;
}

/** The entries of the navigation the signed-in person may use. */
export function useNavigation(): ShownEntry[] {
  const me = useMe();
  return visibleEntries(me.data?.permissions ?? []);
}
