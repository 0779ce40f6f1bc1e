/** Texts in the caller's locale; the twin of services/forms/engine/messages.py. */
import { isObject, type Json } from "./values.js";

export const FALLBACK_LOCALE = "en";

/** Exact tag, its language, the default locale, English, then the first tag in sorted order. */
export function pick(texts: Json | undefined, locale: string, defaultLocale: string): string {
  if (!isObject(texts)) return "";
  const byTag = new Map<string, string>();
  for (const [tag, text] of Object.entries(texts)) if (typeof text === "string") byTag.set(tag.toLowerCase(), text);
  const wanted = locale.toLowerCase();
  for (const tag of [wanted, wanted.split("-", 1)[0] ?? "", defaultLocale.toLowerCase(), FALLBACK_LOCALE]) {
    const text = byTag.get(tag);
    if (text !== undefined) return text;
  }
  const first = [...byTag.keys()].sort()[0];
  return first === undefined ? "" : (byTag.get(first) ?? "");
}

const MESSAGES: Record<string, Record<string, string>> = {
  required: { en: "This field is required.", id: "Kolom ini wajib diisi." },
  unknownField: { en: "This form has no such field.", id: "Formulir ini tidak memiliki kolom ini." },
  computed: {
    en: "The computed value differs from the form's own.",
    id: "Nilai terhitung berbeda dari perhitungan formulir.",
  },
  numberRange: { en: "The number is too large.", id: "Angkanya terlalu besar." },
  type: { en: "The value has the wrong type.", id: "Jenis nilainya salah." },
  format: { en: "The value is not in the expected format.", id: "Format nilainya tidak sesuai." },
  pattern: { en: "The value does not match the expected pattern.", id: "Nilainya tidak sesuai pola." },
  minLength: { en: "The text is too short.", id: "Teksnya terlalu pendek." },
  maxLength: { en: "The text is too long.", id: "Teksnya terlalu panjang." },
  minimum: { en: "The number is too small.", id: "Angkanya terlalu kecil." },
  exclusiveMinimum: { en: "The number is too small.", id: "Angkanya terlalu kecil." },
  maximum: { en: "The number is too large.", id: "Angkanya terlalu besar." },
  exclusiveMaximum: { en: "The number is too large.", id: "Angkanya terlalu besar." },
  multipleOf: { en: "The number is not an allowed step.", id: "Angkanya bukan kelipatan yang diizinkan." },
  enum: { en: "Choose one of the options.", id: "Pilih salah satu opsi." },
  const: { en: "The value is not the expected one.", id: "Nilainya tidak sesuai." },
  minItems: { en: "Too few items.", id: "Jumlah item terlalu sedikit." },
  maxItems: { en: "Too many items.", id: "Jumlah item terlalu banyak." },
  uniqueItems: { en: "Items must not repeat.", id: "Item tidak boleh berulang." },
  check: { en: "The answers are not valid.", id: "Jawabannya tidak valid." },
};
const DEFAULT = { en: "The value is not valid.", id: "Nilainya tidak valid." };

export function message(keyword: string, locale: string): string {
  return pick(MESSAGES[keyword] ?? DEFAULT, locale, FALLBACK_LOCALE);
}
