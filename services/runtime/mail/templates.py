"""Mail templates: Jinja2 files per template and locale, registered by the services that send them.

A service registers a directory under a prefix (``register_templates("auth", dir)``); each
sub-directory is one template, named ``<prefix>/<sub-directory>``, holding for each locale
``<locale>.subject.txt``, ``<locale>.txt`` and ``<locale>.html``. English is required;
another locale falls back to it. Undefined variables are errors (StrictUndefined) and the
HTML part is autoescaped. Every template also sees ``public_url``, the edge's public base
URL, which links start with.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

LOCALES = ("en", "id")
DEFAULT_LOCALE = "en"
_PARTS = ("subject.txt", "txt", "html")
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
# Variables the platform provides to every template; a parameter may not shadow them.
RESERVED_PARAMS = frozenset({"public_url"})


class MailTemplateError(ValueError):
    """An unknown template, an incomplete template directory, or parameters that do not render."""


@dataclass(frozen=True)
class RenderedMail:
    locale: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class _Template:
    directory: Path
    locales: frozenset[str]


def resolve_locale(requested: str, available: frozenset[str]) -> str:
    """``id``, ``id-ID`` or ``id_ID`` → ``id`` when available; anything else → English."""
    language = requested.replace("_", "-").split("-", 1)[0].lower()
    return language if language in available else DEFAULT_LOCALE


class TemplateRegistry:
    def __init__(self) -> None:
        self._prefixes: dict[str, Path] = {}
        self._templates: dict[str, _Template] = {}
        self._lock = threading.Lock()
        self._text = self._environment(autoescape=False)
        self._html = self._environment(autoescape=True)

    @staticmethod
    def _environment(*, autoescape: bool) -> jinja2.Environment:
        # The loader is given per template (each lives in its own directory); templates are
        # the platform's own files, so the environment is not sandboxed.
        return jinja2.Environment(
            loader=jinja2.FunctionLoader(_load_file),
            undefined=jinja2.StrictUndefined,
            autoescape=autoescape,  # noqa: S701 - off only for the text part and subject, which are not HTML
            keep_trailing_newline=True,
            auto_reload=False,
        )

    def register(self, prefix: str, directory: Path) -> None:
        """Registers every template under ``directory``; idempotent for the same directory."""
        if _NAME.fullmatch(prefix) is None:
            raise MailTemplateError(f"invalid template prefix {prefix!r}")
        directory = Path(directory).resolve()
        found = {name: _scan(directory / name) for name in _template_dirs(directory)}
        with self._lock:
            known = self._prefixes.get(prefix)
            if known is not None and known != directory:
                raise MailTemplateError(f"template prefix {prefix!r} is already registered from {known}")
            self._prefixes[prefix] = directory
            for name, template in found.items():
                self._templates[f"{prefix}/{name}"] = template

    def names(self) -> list[str]:
        return sorted(self._templates)

    def render(self, name: str, locale: str, params: Mapping[str, Any], *, public_url: str) -> RenderedMail:
        template = self._templates.get(name)
        if template is None:
            raise MailTemplateError(f"unknown mail template {name!r}")
        shadowed = RESERVED_PARAMS & params.keys()
        if shadowed:
            raise MailTemplateError(f"mail parameters may not be named {sorted(shadowed)}")
        chosen = resolve_locale(locale, template.locales)
        values = {**params, "public_url": public_url}
        base = template.directory / chosen
        try:
            subject = self._text.get_template(f"{base}.subject.txt").render(values)
            text = self._text.get_template(f"{base}.txt").render(values)
            html = self._html.get_template(f"{base}.html").render(values)
        except jinja2.TemplateError as exc:
            # Names the template and Jinja's complaint (a variable's name, never a value).
            raise MailTemplateError(f"mail template {name!r} ({chosen}) does not render: {exc}") from None
        # One line: a subject is a header, and a template's trailing newline is no part of it.
        subject = " ".join(subject.split())
        if not subject:
            raise MailTemplateError(f"mail template {name!r} ({chosen}) renders an empty subject")
        return RenderedMail(locale=chosen, subject=subject, text=text, html=html)


def _load_file(path: str) -> tuple[str, str, Any]:
    source = Path(path).read_text(encoding="utf-8")
    return source, path, lambda: True


def _template_dirs(directory: Path) -> list[str]:
    if not directory.is_dir():
        raise MailTemplateError(f"mail template directory {directory} does not exist")
    names = sorted(entry.name for entry in directory.iterdir() if entry.is_dir() and not entry.name.startswith("_"))
    for name in names:
        if _NAME.fullmatch(name) is None:
            raise MailTemplateError(f"invalid mail template name {name!r} in {directory}")
    return names


def _scan(directory: Path) -> _Template:
    """The locales a template directory provides, each complete; English required."""
    locales: dict[str, set[str]] = {}
    for entry in directory.iterdir():
        locale, _, part = entry.name.partition(".")
        if not entry.is_file() or part not in _PARTS:
            raise MailTemplateError(f"unexpected file {entry} (expected <locale>.subject.txt, .txt, .html)")
        if locale not in LOCALES:
            raise MailTemplateError(f"{entry}: unsupported locale {locale!r} (supported: {', '.join(LOCALES)})")
        locales.setdefault(locale, set()).add(part)
    for locale, parts in locales.items():
        missing = sorted(set(_PARTS) - parts)
        if missing:
            raise MailTemplateError(f"mail template {directory} ({locale}) lacks {missing}")
    if DEFAULT_LOCALE not in locales:
        raise MailTemplateError(f"mail template {directory} has no {DEFAULT_LOCALE} version")
    return _Template(directory=directory, locales=frozenset(locales))


# The process's templates: services register theirs at import, the dispatcher renders from them.
TEMPLATES = TemplateRegistry()
