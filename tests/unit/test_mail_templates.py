"""Mail templates: locales and fallback, strict parameters, escaping, registration checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime.mail import MailTemplateError, TemplateRegistry
from services.runtime.mail.message import build_message
from services.runtime.mail.settings import parse_address
from services.runtime.mail.templates import resolve_locale

SUPPORT = Path(__file__).resolve().parents[1] / "support" / "mail_templates"
URL = "https://edge.example.test"
PARAMS = {"name": "Ada", "tenant_name": "Acme", "token": "tok"}


@pytest.fixture
def registry() -> TemplateRegistry:
    registry = TemplateRegistry()
    registry.register("tests", SUPPORT)
    return registry


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return directory


COMPLETE_EN = {"t/en.subject.txt": "S {{ x }}", "t/en.txt": "T {{ x }}", "t/en.html": "<p>{{ x }}</p>"}


@pytest.mark.parametrize(
    ("requested", "chosen"),
    [("en", "en"), ("id", "id"), ("id-ID", "id"), ("id_ID", "id"), ("ID", "id"), ("fr", "en"), ("", "en")],
)
def test_locale_falls_back_to_english(registry: TemplateRegistry, requested: str, chosen: str) -> None:
    assert resolve_locale(requested, frozenset({"en", "id"})) == chosen
    assert registry.render("tests/welcome", requested, PARAMS, public_url=URL).locale == chosen


def test_a_template_without_the_locale_falls_back_to_english(tmp_path: Path) -> None:
    registry = TemplateRegistry()
    registry.register("only", write(tmp_path, COMPLETE_EN))
    assert registry.render("only/t", "id", {"x": "1"}, public_url=URL).text == "T 1"


def test_rendering_gives_one_line_subject_text_and_html(registry: TemplateRegistry) -> None:
    rendered = registry.render("tests/welcome", "en", PARAMS, public_url=URL)
    assert rendered.subject == "Welcome to Acme, Ada"  # the file's line break is gone
    assert f"{URL}/accept?token=tok" in rendered.text
    assert f'href="{URL}/accept?token=tok"' in rendered.html


def test_html_is_escaped_and_text_is_not(registry: TemplateRegistry) -> None:
    rendered = registry.render("tests/welcome", "en", {**PARAMS, "name": "<b>Ada</b> & co"}, public_url=URL)
    assert "&lt;b&gt;Ada&lt;/b&gt; &amp; co" in rendered.html
    assert "<b>" not in rendered.html
    assert "<b>Ada</b> & co" in rendered.text


def test_unknown_template_and_missing_parameter_are_errors(registry: TemplateRegistry) -> None:
    with pytest.raises(MailTemplateError):
        registry.render("tests/unknown", "en", PARAMS, public_url=URL)
    with pytest.raises(MailTemplateError):
        registry.render("tests/welcome", "en", {"name": "Ada", "tenant_name": "Acme"}, public_url=URL)
    with pytest.raises(MailTemplateError):
        registry.render("tests/welcome", "en", {**PARAMS, "public_url": "https://evil.test"}, public_url=URL)


def test_a_subject_rendering_empty_is_an_error(tmp_path: Path) -> None:
    registry = TemplateRegistry()
    registry.register("p", write(tmp_path, {**COMPLETE_EN, "t/en.subject.txt": "{{ x }}\n"}))
    with pytest.raises(MailTemplateError):
        registry.render("p/t", "en", {"x": "  "}, public_url=URL)


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"t/id.subject.txt": "s", "t/id.txt": "t", "t/id.html": "h"}, id="no-english"),
        pytest.param({**COMPLETE_EN, "t/id.txt": "t"}, id="incomplete-locale"),
        pytest.param({**COMPLETE_EN, "t/fr.txt": "t"}, id="unsupported-locale"),
        pytest.param({**COMPLETE_EN, "t/en.md": "t"}, id="unexpected-file"),
        pytest.param({**{k.replace("t/", "Bad Name/"): v for k, v in COMPLETE_EN.items()}}, id="bad-name"),
    ],
)
def test_incomplete_template_directories_are_refused(tmp_path: Path, files: dict[str, str]) -> None:
    with pytest.raises(MailTemplateError):
        TemplateRegistry().register("p", write(tmp_path, files))


def test_a_prefix_registers_once_per_directory(tmp_path: Path) -> None:
    registry = TemplateRegistry()
    first = write(tmp_path / "a", COMPLETE_EN)
    registry.register("p", first)
    registry.register("p", first)  # importing twice is harmless
    with pytest.raises(MailTemplateError):
        registry.register("p", write(tmp_path / "b", COMPLETE_EN))
    with pytest.raises(MailTemplateError):
        registry.register("Not A Prefix", first)
    with pytest.raises(MailTemplateError):
        registry.register("q", tmp_path / "missing")
    assert registry.names() == ["p/t"]


def test_the_message_is_multipart_with_a_stable_message_id(registry: TemplateRegistry) -> None:
    rendered = registry.render("tests/welcome", "id", PARAMS, public_url=URL)
    sender = parse_address("no-reply@mail.example.test")
    message = build_message(rendered, sender=sender, to="ada@acme.test", job_id="job-1")
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == "<job-1@mail.example.test>"
    assert message["Content-Language"] == "id"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Subject"] == "Selamat datang di Acme, Ada"


@pytest.mark.parametrize(
    "address", ["ada", "ada@", "@acme.test", "ada@localhost", "a b@acme.test", "ada@acme.test\r\nBcc: eve@x.test"]
)
def test_only_single_addresses_are_accepted(address: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the parser's several errors are all ValueErrors here
        parse_address(address)
