"use client";
import { useLocaleStore, useT } from "@/lib/i18n";
import { isLocale } from "@/lib/messages";
import { Select } from "./ui/input";

export function LocaleSwitcher() {
  const t = useT();
  const { locale, setLocale } = useLocaleStore();
  return (
    <Select
      aria-label={t("app.language")}
      value={locale}
      onChange={(event) => {
        if (isLocale(event.target.value)) {
          setLocale(event.target.value);
        }
      }}
    >
      <option value="en">English</option>
      <option value="id">Bahasa Indonesia</option>
    </Select>
  );
}
