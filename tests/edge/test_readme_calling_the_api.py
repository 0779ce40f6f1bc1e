"""README "Calling the API", run as written against a mesh started as `make run` starts it.

Every fenced block of the section is read from README.md (so an edit that breaks an example fails
here): the curl commands, the error shape, the Python gRPC example and the tenantctl block. Only
the placeholders are filled in (<printed password>, <id>, <tenant id>, <user id>, <fileId>,
<refreshToken>, tmk_…, 6f1c…), each by a value an earlier step printed, and the edge's ports are
the test mesh's own. Every curl gets ``--fail-with-body``, so a refused call fails the step, and
each answer is checked for the shape the README describes. The banner the README shows is checked
against the one `make run` prints.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.readme import FencedBlock, fenced_blocks, readme_section, shell_commands
from tests.support.running_mesh import REPO, MeshProcess, mesh_process

pytestmark = pytest.mark.edge

SECTION = "Calling the API"
README_HTTPS = "https://localhost:8443"
# A tiny but real PDF: what the reader uploads as scan.pdf.
SCAN_PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
ASSIGNMENT = re.compile(r"^([A-Z_]+)=(.*)$", re.DOTALL)


@pytest.fixture(scope="module")
async def readme_mesh(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MeshProcess]:
    """A mesh of its own: the README creates tenants with fixed slugs (acme, globex)."""
    async with mesh_process(tmp_path_factory.mktemp("readme-mesh")) as mesh:
        yield mesh


@dataclass
class Reader:
    """Someone following the README in a shell: in a directory where `.data` and `.venv` are the
    mesh's and the project's, with the variables the README's commands set."""

    mesh: MeshProcess
    directory: Path
    variables: dict[str, str] = field(default_factory=dict)
    placeholders: dict[str, str] = field(default_factory=dict)

    def fill_in(self, command: str) -> str:
        for placeholder, value in self.placeholders.items():
            command = command.replace(placeholder, value)
        left = re.findall(r"<[a-z][a-zA-Z ]*>|tmk_…|6f1c…", command)
        assert not left, f"no value yet for {left} in: {command}"
        command = command.replace(README_HTTPS, self.mesh.https_url)
        command = command.replace("localhost:8443", f"localhost:{self.mesh.https_port}")
        command = command.replace("localhost:8080", f"localhost:{self.mesh.http_port}")
        # A refused call fails the step (the README's commands print the answer either way).
        return re.sub(r"\bcurl\b", "curl --fail-with-body -sS", command)

    def environment(self) -> dict[str, str]:
        return {**self.mesh.env, **self.variables}

    async def sh(self, command: str, stdin: str | None = None) -> str:
        """Runs one README command as written (placeholders filled in); fails the test unless it succeeds."""
        filled = self.fill_in(command)
        assignment = ASSIGNMENT.match(filled)
        script = f'{filled}\nprintf %s "${assignment.group(1)}"' if assignment else filled
        done = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-c", f"set -o pipefail\n{script}"],
            cwd=self.directory,
            env=self.environment(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"README command failed ({done.returncode}):\n{filled}\n{done.stdout}{done.stderr}"
        if assignment:
            self.variables[assignment.group(1)] = done.stdout
        return done.stdout


def blocks() -> list[FencedBlock]:
    return fenced_blocks(readme_section(SECTION))


def block_containing(text: str, language: str = "sh") -> FencedBlock:
    found = [b for b in blocks() if b.language == language and text in b.text]
    assert len(found) == 1, f"README {SECTION!r}: expected one {language} block with {text!r}"
    return found[0]


def answer(output: str) -> dict[str, Any]:
    parsed = json.loads(output)
    assert isinstance(parsed, dict), output
    return parsed


# What each README command's answer must look like: (pattern on the command, check of its output).
Check = Callable[["Reader", str], None]


def _harvest(placeholder: str, path: tuple[str, ...]) -> Check:
    def check(reader: Reader, output: str) -> None:
        value: Any = answer(output)
        for key in path:
            value = value[key]
        assert isinstance(value, str), output
        assert value, output
        reader.placeholders[placeholder] = value

    return check


def _has(*path: str, equals: object = None) -> Check:
    def check(reader: Reader, output: str) -> None:
        value: Any = answer(output)
        for key in path:
            assert key in value, f"{key!r} missing in {output}"
            value = value[key]
        if equals is not None:
            assert value == equals, output

    return check


def _lists(key: str, predicate: Callable[[dict[str, Any]], bool] | None = None) -> Check:
    def check(reader: Reader, output: str) -> None:
        items = answer(output)[key]
        assert isinstance(items, list), output
        assert items, output
        if predicate is not None:
            assert any(predicate(item) for item in items), output

    return check


def _tenant_state(state: str) -> Check:
    return _has("tenant", "state", equals=state)


def _published_version_one(reader: Reader, output: str) -> None:
    # "version 1, with its compatibility report"
    version = answer(output)["version"]
    assert version["version"] == 1, output
    assert "compatibility" in version, output


def _csv_with_answer(reader: Reader, output: str) -> None:
    rows = list(csv.DictReader(io.StringIO(output)))
    assert any("Ada" in row.values() for row in rows), output


def _saved_pdf(reader: Reader, output: str) -> None:
    assert (reader.directory / "scan.pdf").read_bytes() == SCAN_PDF


CHECKS: list[tuple[str, Check]] = [
    (r"/v1/auth/me\b", _has("user", "email", equals="admin@tenantmesh.local")),
    (r"auth:refresh", _has("tokens", "accessToken")),
    (r"-X POST \S+/v1/tenants\b(?!/|:)", _harvest("<id>", ("tenant", "tenantId"))),
    (r"tenants\?pageSize", _lists("tenants", lambda t: t["slug"] == "acme" and t["labels"] == {"tier": "gold"})),
    (r"tenants:lookup", _has("tenant", "slug", equals="acme")),
    (r"-X PATCH \S+/v1/tenants/", _has("tenant", "displayName", equals="Acme")),
    (r":suspend", _tenant_state("TENANT_STATE_SUSPENDED")),
    (r":resume", _tenant_state("TENANT_STATE_ACTIVE")),
    (r"-X DELETE \S+/v1/tenants/", _has("tenant", "state")),
    (r"-X POST \S+/v1/users\b", _harvest("<user id>", ("user", "userId"))),
    (r"\S+/v1/users$", _lists("users", lambda u: u["email"] == "ada@acme.test")),
    (r"/v1/roles\b", _has("role", "name", equals="viewer")),
    (r"/v1/serviceAccounts\b", _harvest("tmk_…", ("apiKey",))),
    (r"auth:exchangeApiKey", _has("tokens", "accessToken")),
    (r"/v1/auditEvents$", _lists("auditEvents")),
    (r"/v1/current-tenant$", _has("tenant", "tenantId")),
    (r"/v1/invitations\b", _has("invitation", "email", equals="bo@example.com")),
    (r"/v1/mfaPolicy\b", _has("policy", "requiredRoles", equals=["tenant-admin"])),
    (r"-X POST \S+/v1/forms -d", _has("form", "key", equals="intake")),
    (r"intake:publish", _published_version_one),
    (r"submissions:validate", _has("violations")),
    (r"-X POST \S+/v1/forms/intake/submissions -d", _has("submission", "submissionId")),
    (r"/v1/submissions --data-urlencode", _lists("submissions")),
    (r"submissions:export", _csv_with_answer),
    (r"/v1/my-menu\b", _lists("items")),
    (r"/v1/menu-entries$", _lists("entries")),
    (r"menu-overrides:set", _has("override", "label", equals="People")),
    (r"/v1/custom-menu-entries\b", _has("customEntry", "entryId", equals="handbook")),
    (r"menu-entries:move", _has("entry", "key", equals="custom/handbook")),
    (r"menus:preview", _lists("items")),
    (r"menu-entries:whoCanSee", _has("roles")),
    (r"menus:whatCanReach", _lists("entries", lambda e: e["key"] == "platform/users")),
    (r"files:upload", _harvest("<fileId>", ("file", "fileId"))),
    (r"/v1/files/\S+:download", _saved_pdf),
    (r"-X DELETE \S+/v1/files/", lambda reader, output: None),
    (r"\S+/v1/files/[^:\s]+$", _has("file", "filename", equals="scan.pdf")),
]


def check_answer(reader: Reader, command: str, output: str) -> None:
    # The command as written, on one line, without the URL's host and port.
    flat = " ".join(command.replace("\\\n", " ").split())
    matching = [check for pattern, check in CHECKS if re.search(pattern, flat)]
    assert matching, f"the test does not know what README command answers: {flat}"
    try:
        matching[0](reader, output)
    except (AssertionError, KeyError, ValueError) as failed:
        raise AssertionError(f"README command answered unlike the README says: {flat}\n{failed!r}") from failed


async def run_curl_block(reader: Reader, block: FencedBlock) -> None:
    for command in shell_commands(block.text):
        output = await reader.sh(command)
        if not ASSIGNMENT.match(command):
            check_answer(reader, command, output)


def python_example() -> str:
    [example] = [b.text for b in blocks() if b.language == "python"]
    return example


async def run_python_example(reader: Reader) -> str:
    """The gRPC example as a script of its own; ``token`` is the README reader's $TOKEN."""
    code = reader.fill_in(python_example()).replace("curl --fail-with-body -sS", "curl")
    script = reader.directory / "grpc_example.py"
    script.write_text(f"token = {reader.variables['TOKEN']!r}\n{code}")
    env = {**os.environ, "PYTHONPATH": str(REPO / "gen" / "python")}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, str(script)], cwd=reader.directory, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def readme_login(reader: Reader) -> None:
    """The README's login, up to $AUTH (its variables, not its other calls)."""
    for command in shell_commands(block_containing("/v1/auth:login").text):
        if ASSIGNMENT.match(command):
            await reader.sh(command)


@pytest.fixture
def reader(readme_mesh: MeshProcess, tmp_path: Path) -> Reader:
    (tmp_path / ".data").symlink_to(readme_mesh.data_dir)
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    (tmp_path / "scan.pdf").write_bytes(SCAN_PDF)
    return Reader(readme_mesh, tmp_path, placeholders={"<printed password>": readme_mesh.admin_password})


# Slow by design: about sixty calls through the edge and a dozen tenantctl runs.
@pytest.mark.timeout(600)
async def test_calling_the_api_as_written(reader: Reader) -> None:
    login = block_containing("/v1/auth:login")
    # The refresh token is the one the login step printed.
    for command in shell_commands(login.text):
        if "<refreshToken>" in command:
            reader.placeholders["<refreshToken>"] = json.loads(reader.variables["TOKENS"])["tokens"]["refreshToken"]
        output = await reader.sh(command)
        if not ASSIGNMENT.match(command):
            check_answer(reader, command, output)

    await run_curl_block(reader, block_containing("/v1/tenants:lookup"))

    # The gRPC example makes the tenant the users, forms, menus and files examples work in (acme
    # was deleted by the last tenants example); "6f1c…" is a request id of the reader's own.
    reader.placeholders["6f1c…"] = str(uuid.uuid4())
    printed = (await run_python_example(reader)).split()
    assert printed[1] == "TENANT_STATE_ACTIVE", printed
    reader.placeholders["<tenant id>"] = printed[0]

    for marker in ("/v1/users", "/v1/forms", "/v1/my-menu", "/v1/files:upload"):
        await run_curl_block(reader, block_containing(marker))


async def test_the_documented_error_shape(reader: Reader) -> None:
    [documented] = [json.loads(b.text) for b in blocks() if b.language == "json"]
    await readme_login(reader)
    # The call the documented error answers (fails on purpose: no --fail-with-body).
    command = reader.fill_in(
        'curl $CA -H "$AUTH" -X POST https://localhost:8443/v1/tenants -d \'{"slug": "Not Valid!"}\''
    )
    command = command.replace("--fail-with-body ", "")
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", command],
        cwd=reader.directory,
        env=reader.environment(),
        capture_output=True,
        text=True,
    )
    got = answer(done.stdout)
    assert got["code"] == documented["code"]
    assert [d["@type"] for d in got["details"]] == [d["@type"] for d in documented["details"]]
    assert got["details"][0]["reason"] == documented["details"][0]["reason"]
    assert got["details"][0]["domain"] == documented["details"][0]["domain"]
    [violation] = got["details"][1]["fieldViolations"]
    [described] = documented["details"][1]["fieldViolations"]
    assert violation["field"] == described["field"]
    assert violation["description"].startswith(described["description"].rstrip(" …"))


async def test_tenantctl_as_written(reader: Reader) -> None:
    await readme_login(reader)
    block = block_containing(".venv/bin/tenantctl tenants create")
    for command in shell_commands(block.text):
        # The reader types a password; the one printed at start, so later logins still work.
        stdin = f"{reader.mesh.admin_password}\n" if "--password-stdin" in command else None
        output = await reader.sh(command, stdin=stdin)
        if "tenants create" in command:
            created = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", output)
            assert created is not None, output
            reader.placeholders["<id>"] = created.group(0)
        elif "--json tenants list" in command:
            rows = [json.loads(line) for line in output.splitlines()]
            assert rows, output
            assert all("slug" in row for row in rows), output
        elif "tenants list" in command:
            header, *rows = output.splitlines()
            assert "slug" in header.lower().split(), output
            assert rows, output


def banner_pattern(line: str) -> str:
    """A README banner line as a pattern: a word ending in "…" stands for anything (a path, the
    password), ports vary, and the test mesh's data directory is ``data`` rather than ``.data``."""
    parts = re.split(r"\S*…", line.rstrip())
    pattern = ".*?".join(re.escape(part) for part in parts)
    pattern = pattern.replace(re.escape(".data"), r"\.?data")
    return re.sub(r"(?<=:)\d{4,5}", r"\\d+", pattern)


def test_the_banner_is_what_make_run_prints(readme_mesh: MeshProcess) -> None:
    section = readme_section("Two commands")
    [shown] = [b.text for b in fenced_blocks(section) if b.language == "" and "Tenantmesh is up." in b.text]
    printed = [line.rstrip() for line in readme_mesh.banner.splitlines()]
    # `make run` builds the console first; the test mesh runs without it (a warning says so).
    console_built = "the web console is not built" not in readme_mesh.banner
    position = 0
    for line in shown.splitlines():
        if line.strip() == "…" or (line.strip().startswith("web console") and not console_built):
            continue
        pattern = re.compile(banner_pattern(line) + "$")
        found = next((i for i in range(position, len(printed)) if pattern.match(printed[i])), None)
        assert found is not None, f"README banner line not printed (in this order): {line!r}\n{readme_mesh.banner}"
        position = found + 1
