"""Texts in the caller's locale: the definition's own (labels, check messages) and the engine's messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from services.forms.engine.values import JSON

FALLBACK_LOCALE: Final = "en"


def pick(texts: JSON, locale: str, default_locale: str) -> str:
    """The text for ``locale``: the exact tag, then its language ("id" for "id-ID"), then the
    definition's default locale, then English, then the first tag in sorted order; "" when none."""
    if not isinstance(texts, Mapping) or not texts:
        return ""
    by_tag = {str(tag).lower(): text for tag, text in texts.items() if isinstance(text, str)}
    wanted = locale.lower()
    for tag in (wanted, wanted.split("-", 1)[0], default_locale.lower(), FALLBACK_LOCALE):
        if tag in by_tag:
            return by_tag[tag]
    return by_tag[min(by_tag)] if by_tag else ""


# The engine's messages per violation keyword, in every locale it ships.
_MESSAGES: Final[dict[str, dict[str, str]]] = {
    "required": {"en": "This field is required.", "id": "Kolom ini wajib diisi."},
    "unknownField": {"en": "This form has no such field.", "id": "Formulir ini tidak memiliki kolom ini."},
    "computed": {
        "en": "The computed value differs from the form's own.",
        "id": "Nilai terhitung berbeda dari perhitungan formulir.",
    },
    "numberRange": {"en": "The number is too large.", "id": "Angkanya terlalu besar."},
    "type": {"en": "The value has the wrong type.", "id": "Jenis nilainya salah."},
    "format": {"en": "The value is not in the expected format.", "id": "Format nilainya tidak sesuai."},
    "pattern": {"en": "The value does not match the expected pattern.", "id": "Nilainya tidak sesuai pola."},
    "minLength": {"en": "The text is too short.", "id": "Teksnya terlalu pendek."},
    "maxLength": {"en": "The text is too long.", "id": "Teksnya terlalu panjang."},
    "minimum": {"en": "The number is too small.", "id": "Angkanya terlalu kecil."},
    "exclusiveMinimum": {"en": "The number is too small.", "id": "Angkanya terlalu kecil."},
    "maximum": {"en": "The number is too large.", "id": "Angkanya terlalu besar."},
    "exclusiveMaximum": {"en": "The number is too large.", "id": "Angkanya terlalu besar."},
    "multipleOf": {"en": "The number is not an allowed step.", "id": "Angkanya bukan kelipatan yang diizinkan."},
    "enum": {"en": "Choose one of the options.", "id": "Pilih salah satu opsi."},
    "const": {"en": "The value is not the expected one.", "id": "Nilainya tidak sesuai."},
    "minItems": {"en": "Too few items.", "id": "Jumlah item terlalu sedikit."},
    "maxItems": {"en": "Too many items.", "id": "Jumlah item terlalu banyak."},
    "uniqueItems": {"en": "Items must not repeat.", "id": "Item tidak boleh berulang."},
    "check": {"en": "The answers are not valid.", "id": "Jawabannya tidak valid."},
}
_DEFAULT: Final = {"en": "The value is not valid.", "id": "Nilainya tidak valid."}


def message(keyword: str, locale: str) -> str:
    """The engine's message for a violation of ``keyword`` in ``locale`` (English when it has none)."""
    return pick(_MESSAGES.get(keyword, _DEFAULT), locale, FALLBACK_LOCALE)
