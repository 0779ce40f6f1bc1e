"""Mail, delivery and public-URL settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime.config import ConfigError, load_settings
from services.runtime.delivery import DeliverySettings, load_delivery_settings
from services.runtime.mail import load_mail_settings
from services.runtime.mail.transports import SmtpTransport


def mail_settings(tmp_path: Path, **env: str) -> object:
    return load_mail_settings(load_settings({"TENANTMESH_DATA_DIR": str(tmp_path), **env}))


def test_without_smtp_url_mail_goes_to_files_in_the_data_directory(tmp_path: Path) -> None:
    settings = load_mail_settings(load_settings({"TENANTMESH_DATA_DIR": str(tmp_path)}))
    assert settings.smtp is None
    assert settings.directory == tmp_path / "mail"
    assert str(settings.sender) == "Tenantmesh <no-reply@tenantmesh.local>"
    assert settings.public_url == "https://localhost:8443"


def test_smtp_url_with_starttls_and_credentials(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    settings = load_mail_settings(
        load_settings(
            {
                "TENANTMESH_DATA_DIR": str(tmp_path),
                "TENANTMESH_SMTP_URL": "smtp://user%40corp:p%3Ass@mail.corp.test",
                "TENANTMESH_SMTP_CA_FILE": str(ca),
                "TENANTMESH_SMTP_TIMEOUT_SECONDS": "7",
                "TENANTMESH_MAIL_FROM": "Acme Accounts <accounts@corp.test>",
            }
        )
    )
    assert settings.smtp is not None
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.implicit_tls) == ("mail.corp.test", 587, False)
    assert (settings.smtp.username, settings.smtp.password) == ("user@corp", "p:ss")
    assert settings.smtp.ca_file == ca
    assert settings.smtp.timeout_seconds == 7
    assert "p:ss" not in repr(settings)
    assert settings.sender.display_name == "Acme Accounts"
    assert settings.sender.domain == "corp.test"


def test_smtps_is_implicit_tls_on_465(tmp_path: Path) -> None:
    settings = load_mail_settings(
        load_settings({"TENANTMESH_DATA_DIR": str(tmp_path), "TENANTMESH_SMTP_URL": "smtps://mail.corp.test"})
    )
    assert settings.smtp is not None
    assert (settings.smtp.port, settings.smtp.implicit_tls, settings.smtp.username) == (465, True, None)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TENANTMESH_SMTP_URL", "http://user:hunter2@mail.corp.test"),
        ("TENANTMESH_SMTP_URL", "smtp://user:hunter2@mail.corp.test:notaport"),
        ("TENANTMESH_SMTP_URL", "smtp://user:hunter2@mail.corp.test/path"),
        ("TENANTMESH_SMTP_CA_FILE", "/nonexistent/ca.pem"),
        ("TENANTMESH_SMTP_TIMEOUT_SECONDS", "0"),
        ("TENANTMESH_MAIL_FROM", "not an address"),
        ("TENANTMESH_MAIL_FROM", "a@corp.test, b@corp.test"),
        ("TENANTMESH_MAIL_FROM", "Evil\nBcc: x@corp.test <a@corp.test>"),
    ],
)
def test_bad_mail_settings_stop_the_process_naming_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable) as caught:
        mail_settings(tmp_path, **{variable: value})
    assert "hunter2" not in str(caught.value)


def test_public_url_defaults_to_the_edge_https_port() -> None:
    assert load_settings({"TENANTMESH_EDGE_HTTPS_PORT": "9443"}).public_url == "https://localhost:9443"
    assert load_settings({"TENANTMESH_PUBLIC_URL": "https://tm.example.com/"}).public_url == "https://tm.example.com"
    assert load_settings({"TENANTMESH_PUBLIC_URL": "http://127.0.0.1:8080"}).public_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    "value", ["tm.example.com", "http://tm.example.com", "https://tm.example.com/?a=1", "https://u:p@tm.example.com"]
)
def test_public_url_must_be_an_https_base(value: str) -> None:
    with pytest.raises(ConfigError, match="TENANTMESH_PUBLIC_URL"):
        load_settings({"TENANTMESH_PUBLIC_URL": value})


def test_delivery_settings() -> None:
    assert load_delivery_settings({}) == DeliverySettings()
    settings = load_delivery_settings(
        {"TENANTMESH_DELIVERY_MAX_ATTEMPTS": "3", "TENANTMESH_DELIVERY_RETRY_BASE_SECONDS": "0.5"}
    )
    assert (settings.max_attempts, settings.retry_base_seconds) == (3, 0.5)
    for variable, value in (
        ("TENANTMESH_DELIVERY_MAX_ATTEMPTS", "0"),
        ("TENANTMESH_DELIVERY_LEASE_SECONDS", "-1"),
        ("TENANTMESH_DELIVERY_RETRY_MAX_SECONDS", "1"),  # below the base
    ):
        with pytest.raises(ConfigError, match=variable):
            load_delivery_settings({variable: value})


def test_a_ca_file_that_is_not_pem_stops_the_process(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    settings = load_mail_settings(
        load_settings(
            {
                "TENANTMESH_DATA_DIR": str(tmp_path),
                "TENANTMESH_SMTP_URL": "smtp://mail.corp.test",
                "TENANTMESH_SMTP_CA_FILE": str(ca),
            }
        )
    )
    assert settings.smtp is not None
    with pytest.raises(ConfigError, match="TENANTMESH_SMTP_CA_FILE"):
        SmtpTransport(settings.smtp)
