"""tenantctl as a person and a script read it: a header row over the list, --json as NDJSON
(one object per line), field violations printed under the error, documented exit codes."""

from __future__ import annotations

import json
import os
import pty
import select
import sys
import uuid
from pathlib import Path

import pytest

from services.cli.tenantctl import TENANT_HEADER_ROW, build_parser, main, run
from tests.support.platform import platform


async def test_list_output_errors_and_exit_codes(
    db_backend_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with platform(db_backend_url, tmp_path) as mesh:
        token = await mesh.admin_token()
        common = ["--target", mesh.runtime.addresses["tenants"], "--token", token]
        slug = f"ctl-{uuid.uuid4().hex[:8]}"
        assert await run(build_parser().parse_args([*common, "tenants", "create", slug])) == 0
        capsys.readouterr()

        assert await run(build_parser().parse_args([*common, "tenants", "list"])) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == TENANT_HEADER_ROW
        assert any(slug in line for line in lines[1:])

        assert await run(build_parser().parse_args([*common, "--json", "tenants", "list"])) == 0
        documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert slug in {document["slug"] for document in documents}

        # Refused: exit 1, the reason, and the invalid field on a line of its own.
        assert await run(build_parser().parse_args([*common, "tenants", "create", "UPPER"])) == 1
        error = capsys.readouterr().err.splitlines()
        assert error[0].startswith("error: INVALID_ARGUMENT FIELD_INVALID")
        assert any(line.startswith("  tenant.slug: ") for line in error[1:])


async def test_update_changes_the_labels_it_names_and_keeps_the_others(
    db_backend_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with platform(db_backend_url, tmp_path) as mesh:
        token = await mesh.admin_token()
        common = ["--target", mesh.runtime.addresses["tenants"], "--token", token, "--json"]
        slug = f"ctl-{uuid.uuid4().hex[:8]}"
        labels = ["--label", "tier=gold", "--label", "region=eu", "--label", "team=core"]
        assert await run(build_parser().parse_args([*common, "tenants", "create", slug, *labels])) == 0
        tenant_id = json.loads(capsys.readouterr().out)["tenantId"]

        update = ["tenants", "update", tenant_id, "--label", "tier=silver", "--remove-label", "team"]
        assert await run(build_parser().parse_args([*common, *update])) == 0
        # The labels not named stay (the whole map was replaced by the ones given).
        assert json.loads(capsys.readouterr().out)["labels"] == {"tier": "silver", "region": "eu"}


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["tenants", "frobnicate"], "invalid choice"),
        # Out of range, these reached the code as numbers: 99999999 hours overflowed a datetime.
        (["tenants", "usage", "t", "--hours", "99999999"], "is not from 1 to 744"),
        (["tenants", "usage", "t", "--hours", "0"], "is not from 1 to 744"),
        (["tenants", "usage", "t", "--hours", "soon"], "'soon' is not a whole number"),
        (["migrate", "--concurrency", "-1"], "is not from 1 to 64"),
        # A malformed label exited 1 ("refused by the platform"); a missing CA file was a traceback.
        (["tenants", "create", "acme", "--label", "tier"], "expected key=value, got 'tier'"),
        (["--ca", "/no/such/ca.pem", "tenants", "list"], "no such file: /no/such/ca.pem"),
        # Both an id and a slug: the slug silently won.
        (["tenants", "get", "some-id", "--slug", "other"], "not allowed with argument"),
    ],
)
def test_a_wrong_command_line_exits_2(argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


def _read_all(fd: int) -> str:
    chunks = []
    while select.select([fd], [], [], 0)[0]:
        chunks.append(os.read(fd, 65536))
    return b"".join(chunks).decode()


async def test_long_operations_show_progress_on_a_terminal_only(
    db_backend_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal, attached = pty.openpty()
    with os.fdopen(attached, "w") as stderr:
        monkeypatch.setattr(sys, "stderr", stderr)
        async with platform(db_backend_url, tmp_path) as mesh:
            common = ["--target", mesh.runtime.addresses["tenants"], "--token", await mesh.admin_token()]
            slug = f"ctl-{uuid.uuid4().hex[:8]}"

            assert await run(build_parser().parse_args([*common, "tenants", "create", slug])) == 0
            shown = _read_all(terminal)
            assert f"creating {slug}: provisioning its databases" in shown
            assert shown.endswith("\r\x1b[2K")  # the line is gone before the result is printed
            assert slug in capsys.readouterr().out

            assert await run(build_parser().parse_args([*common, "migrate"])) == 0
            shown = _read_all(terminal)
            assert "migrating tenant databases: 1 of " in shown
            assert shown.endswith("\r\x1b[2K")
            assert "migrated " in capsys.readouterr().out

            # --json: the output is for a program; nothing extra, not even on a terminal.
            other = f"ctl-{uuid.uuid4().hex[:8]}"
            assert await run(build_parser().parse_args([*common, "--json", "tenants", "create", other])) == 0
            assert await run(build_parser().parse_args([*common, "--json", "migrate"])) == 0
            assert _read_all(terminal) == ""
            documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
            assert documents[0]["slug"] == other
            assert all("completed" in document for document in documents[1:])
    os.close(terminal)


def test_an_unreachable_database_is_one_line_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    database = "mysql+asyncmy://tm:Secret_E@127.0.0.1:1/tm"
    assert main(["admin", "reset-password", "--generate", "--database", database]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the core database cannot be used: OperationalError:"), err
    assert "Traceback" not in err
    assert "Secret_E" not in err
