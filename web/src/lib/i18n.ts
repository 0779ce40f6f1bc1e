"use client";
// The user's locale: chosen in the header, remembered in localStorage (a preference, not a
// secret), defaulting to the browser's language. <html lang> follows it.

import { create } from "zustand";
import { errorText } from "./errors";
import { format, formatBytes, formatDateTime, isLocale, preferredLocale, type Locale, type MessageKey } from "./messages";

const STORAGE_KEY = "tm.locale";

interface LocaleState {
  locale: Locale;
  setLocale: (locale: Locale) => void;
}

/** The remembered choice, else the browser's language. */
export function storedLocale(): Locale {
  const saved = window.localStorage.getItem(STORAGE_KEY);
  return isLocale(saved) ? saved : preferredLocale(window.navigator.languages ?? []);
}

// Pages are prerendered in English; the stored choice is applied once the page runs (Providers),
// so the first client render matches the prerendered HTML.
export const useLocaleStore = create<LocaleState>((set) => ({
  locale: "en",
  setLocale: (locale) => {
    window.localStorage.setItem(STORAGE_KEY, locale);
    document.documentElement.lang = locale;
    set({ locale });
  },
}));

export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

/** `t(key, values)` in the current locale. */
export function useT(): Translate {
  const locale = useLocaleStore((s) => s.locale);
  return (key, values) => format(locale, key, values);
}

/** Times and sizes written the way the current locale writes them. */
export function useFormat(): { dateTime: (value: string | undefined | null) => string; bytes: (bytes: number) => string } {
  const locale = useLocaleStore((s) => s.locale);
  return { dateTime: (value) => formatDateTime(locale, value), bytes: (bytes) => formatBytes(locale, bytes) };
}

/** A failed call as the console words it in the current locale (errors.ts). */
export function useErrorText(): (error: unknown) => string {
  const locale = useLocaleStore((s) => s.locale);
  return (error) => errorText(locale, error);
}
