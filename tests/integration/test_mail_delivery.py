"""Mail through the durable delivery queue, to a real SMTP server (aiosmtpd), on SQLite and MariaDB.

Each platform here is a real Runtime with mail enabled, as the auth service's
processes run it; settings come from the environment as in production, with
short backoffs so retries take milliseconds.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import secrets
import stat
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from services.cli.deliveries import mail_command
from services.cli.tenantctl import build_parser
from services.runtime import clock
from services.runtime.app import Runtime
from services.runtime.db import TenantDatabase, database_after
from services.runtime.delivery import (
    DeadReason,
    DeliveryNotEnabled,
    DeliveryRow,
    JobState,
    list_dead_letters,
    retry_dead_letters,
)
from services.runtime.mail import Mail, MailTemplateError, queue_mail, register_templates
from services.runtime.mail.channel import CHANNEL
from tests.support.mesh import mesh_settings
from tests.support.smtp import FAST_DELIVERY_ENV, SmtpTestServer, body_of, link_in, read_eml

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "support" / "mail_templates"
register_templates("tests", TEMPLATES_DIR)

PUBLIC_URL = "https://console.example.test:9443"
SENDER_DOMAIN = "mail.example.test"
FAST = FAST_DELIVERY_ENV


def welcome(to: str = "ada@acme.test", *, locale: str = "en", token: str | None = None) -> Mail:
    return Mail(
        template="tests/welcome",
        to=to,
        locale=locale,
        params={"name": "Ada", "tenant_name": "Acme", "token": token or secrets.token_urlsafe(24)},
        tenant_id="0190a0a0-0000-7000-8000-000000000001",
    )


@contextlib.asynccontextmanager
async def mail_runtime(
    database_url: str, data_dir: Path, env: Mapping[str, str], *, start: bool = True
) -> AsyncIterator[Runtime]:
    """A runtime that sends mail, as an auth process's (its dispatcher running if ``start``)."""
    variables = {
        "TENANTMESH_PUBLIC_URL": PUBLIC_URL,
        "TENANTMESH_MAIL_FROM": f"Tenantmesh <no-reply@{SENDER_DOMAIN}>",
        **FAST,
        **env,
    }
    runtime = await Runtime.open(mesh_settings(database_url, data_dir, **variables))
    try:
        runtime.enable_mail()
        assert runtime.delivery is not None
        await (runtime.delivery.start() if start else runtime.delivery.migrate())
        yield runtime
    finally:
        await runtime.close()


async def queue(runtime: Runtime, *mails: Mail) -> list[str]:
    """Queues mails in one committed transaction, as a request handler would."""
    async with runtime.db.core_session() as session:
        job_ids = [queue_mail(session, mail) for mail in mails]
        await session.commit()
    return job_ids


async def job(runtime: Runtime, job_id: str) -> DeliveryRow:
    async with runtime.db.core_session() as session:
        return (await session.execute(select(DeliveryRow).where(DeliveryRow.job_id == job_id))).scalar_one()


async def wait_job(
    runtime: Runtime, job_id: str, until: Callable[[DeliveryRow], bool], *, within: float = 10.0
) -> DeliveryRow:
    deadline = time.monotonic() + within
    while True:
        row = await job(runtime, job_id)
        if until(row):
            return row
        assert time.monotonic() < deadline, f"job {job_id} stayed {row.state} after {row.attempts} attempt(s)"
        await asyncio.sleep(0.05)


@pytest.fixture
def kek() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
async def mailer(db_backend_url: str, tmp_path: Path, smtp_server: SmtpTestServer, kek: str) -> AsyncIterator[Runtime]:
    env = {**smtp_server.env(), "TENANTMESH_KEY_ENCRYPTION_KEY": kek}
    async with mail_runtime(db_backend_url, tmp_path / "a", env) as runtime:
        yield runtime


@pytest.mark.parametrize(
    ("locale", "subject", "greeting"),
    [("en", "Welcome to Acme, Ada", "Hello Ada"), ("id-ID", "Selamat datang di Acme, Ada", "Halo Ada")],
)
async def test_queued_mail_arrives_once_multipart_in_its_locale(
    mailer: Runtime, smtp_server: SmtpTestServer, locale: str, subject: str, greeting: str
) -> None:
    token = secrets.token_urlsafe(24)
    [job_id] = await queue(mailer, welcome(locale=locale, token=token))

    [received] = await smtp_server.wait_for(1)
    row = await wait_job(mailer, job_id, lambda r: r.state == JobState.SENT)
    assert row.attempts == 1
    assert row.payload is None  # the token is gone once sent
    assert received.tls
    assert received.authenticated
    assert received.envelope_to == ("ada@acme.test",)
    assert received.message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in received.message.iter_parts()] == ["text/plain", "text/html"]
    assert received.subject == subject
    assert received.message_id == f"<{job_id}@{SENDER_DOMAIN}>"
    assert received.message["Content-Language"] == locale[:2]
    assert greeting in received.text()
    assert greeting in received.html()
    link = received.link(PUBLIC_URL + "/")
    assert link == f"{PUBLIC_URL}/accept?token={token}"
    assert f'href="{link}"' in received.html()
    await asyncio.sleep(0.3)  # a few more polls: nothing is sent twice
    assert len(smtp_server.received) == 1


async def test_a_commit_wakes_the_dispatcher_at_once(
    db_backend_url: str, tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    env = {**smtp_server.env(), "TENANTMESH_DELIVERY_POLL_SECONDS": "60"}
    async with mail_runtime(db_backend_url, tmp_path, env) as runtime:
        await asyncio.sleep(0.2)  # the dispatcher's first scan is over; it now sleeps a minute
        started = time.monotonic()
        await queue(runtime, welcome())
        await smtp_server.wait_for(1, within=5)
        assert time.monotonic() - started < 5


async def test_a_rolled_back_transaction_sends_nothing(mailer: Runtime, smtp_server: SmtpTestServer) -> None:
    async with mailer.db.core_session() as session:
        job_id = queue_mail(session, welcome(to="never@acme.test"))
        await session.rollback()
    await queue(mailer, welcome(to="later@acme.test"))
    await smtp_server.wait_for(1)
    await asyncio.sleep(0.3)
    assert [mail.envelope_to for mail in smtp_server.received] == [("later@acme.test",)]
    async with mailer.db.core_session() as session:
        assert (await session.execute(select(DeliveryRow).where(DeliveryRow.job_id == job_id))).first() is None


async def test_smtp_down_the_request_succeeds_and_the_mail_arrives_when_it_is_back(
    mailer: Runtime, smtp_server: SmtpTestServer
) -> None:
    await smtp_server.stop()
    [job_id] = await queue(mailer, welcome())  # the producer's transaction is not affected

    row = await wait_job(mailer, job_id, lambda r: r.attempts >= 3)
    assert row.state == JobState.PENDING
    assert row.last_error  # what went wrong, for the operator
    assert row.payload is not None

    await smtp_server.start()
    [received] = await smtp_server.wait_for(1)
    row = await wait_job(mailer, job_id, lambda r: r.state == JobState.SENT)
    assert received.message_id == f"<{job_id}@{SENDER_DOMAIN}>"
    assert row.last_error is None
    await asyncio.sleep(0.3)
    assert len(smtp_server.received) == 1


async def test_a_temporary_refusal_is_retried(mailer: Runtime, smtp_server: SmtpTestServer) -> None:
    smtp_server.refuse("busy@acme.test", code=451, times=2)
    [job_id] = await queue(mailer, welcome(to="busy@acme.test"))
    await smtp_server.wait_for(1)
    row = await wait_job(mailer, job_id, lambda r: r.state == JobState.SENT)
    assert row.attempts == 3


async def test_a_permanent_refusal_is_dead_lettered_with_its_reason(
    mailer: Runtime, smtp_server: SmtpTestServer
) -> None:
    smtp_server.refuse("gone@acme.test", code=550)
    [dead_id, _] = await queue(mailer, welcome(to="gone@acme.test"), welcome(to="ada@acme.test"))

    row = await wait_job(mailer, dead_id, lambda r: r.state == JobState.DEAD)
    assert row.attempts == 1  # at once, no retries
    assert row.dead_reason == DeadReason.REJECTED
    assert row.last_error
    assert "gone@acme.test" not in row.last_error  # the server quoted it; it is not kept in clear
    await smtp_server.wait_for(1)
    assert smtp_server.messages_to("gone@acme.test") == []
    [letter] = await list_dead_letters(mailer.db)
    assert (letter.job_id, letter.channel, letter.topic, letter.reason) == (
        dead_id,
        CHANNEL,
        "tests/welcome",
        DeadReason.REJECTED,
    )
    assert letter.tenant_id == welcome().tenant_id

    # The operator has the address fixed and queues the dead letter again: same job, same Message-ID.
    smtp_server.accept("gone@acme.test")
    assert await retry_dead_letters(mailer.db, [dead_id]) == 1
    assert mailer.delivery is not None
    mailer.delivery.dispatcher.notify()
    [received] = await smtp_server.wait_for(1, where=lambda m: m.envelope_to == ("gone@acme.test",))
    assert received.message_id == f"<{dead_id}@{SENDER_DOMAIN}>"
    assert await list_dead_letters(mailer.db) == []


async def test_attempts_run_out_into_a_dead_letter(
    db_backend_url: str, tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    await smtp_server.stop()
    env = {**smtp_server.env(), "TENANTMESH_DELIVERY_MAX_ATTEMPTS": "3"}
    async with mail_runtime(db_backend_url, tmp_path, env) as runtime:
        [job_id] = await queue(runtime, welcome())
        row = await wait_job(runtime, job_id, lambda r: r.state == JobState.DEAD)
    assert row.attempts == 3
    assert row.dead_reason == DeadReason.ATTEMPTS_EXHAUSTED
    assert row.payload is not None  # kept sealed, so the operator can retry it


async def test_nothing_is_sent_without_starttls(
    db_backend_url: str, tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    await smtp_server.stop()
    await smtp_server.start(tls=False)
    async with mail_runtime(db_backend_url, tmp_path, smtp_server.env()) as runtime:
        [job_id] = await queue(runtime, welcome())
        row = await wait_job(runtime, job_id, lambda r: r.attempts >= 2)
    assert row.state == JobState.PENDING
    assert smtp_server.received == []


async def test_two_dispatchers_on_one_database_send_each_job_once(
    db_backend_url: str, tmp_path: Path, smtp_server: SmtpTestServer, kek: str
) -> None:
    env = {**smtp_server.env(), "TENANTMESH_KEY_ENCRYPTION_KEY": kek}
    count = 24
    async with (
        mail_runtime(db_backend_url, tmp_path / "a", env, start=False) as first,
        mail_runtime(db_backend_url, tmp_path / "b", env, start=False) as second,
    ):
        job_ids = await queue(first, *(welcome(to=f"user{i}@acme.test") for i in range(count)))
        assert first.delivery is not None
        assert second.delivery is not None
        # Both start on a full queue, so they compete for every job.
        await asyncio.gather(first.delivery.start(), second.delivery.start())
        await smtp_server.wait_for(count)
        for job_id in job_ids:
            await wait_job(first, job_id, lambda r: r.state == JobState.SENT)
        await asyncio.sleep(0.3)
    ids = [mail.message_id for mail in smtp_server.received]
    assert len(ids) == count
    assert sorted(ids) == sorted(f"<{job_id}@{SENDER_DOMAIN}>" for job_id in job_ids)


class _Hang:
    """A channel stuck in its send (a process about to die mid-attempt)."""

    name = CHANNEL

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def deliver(self, _job: object) -> None:
        self.entered.set()
        await asyncio.Event().wait()


async def test_a_job_whose_dispatcher_died_mid_send_is_sent_after_its_lease(
    db_backend_url: str, tmp_path: Path, smtp_server: SmtpTestServer, kek: str, caplog: pytest.LogCaptureFixture
) -> None:
    env = {**smtp_server.env(), "TENANTMESH_KEY_ENCRYPTION_KEY": kek, "TENANTMESH_DELIVERY_LEASE_SECONDS": "0.5"}
    async with mail_runtime(db_backend_url, tmp_path / "b", env, start=False) as survivor:
        # The doomed process: same database, its dispatcher stuck in the middle of a send.
        doomed_env = {**FAST, **env, "TENANTMESH_SHUTDOWN_GRACE_SECONDS": "0.1"}
        runtime = await Runtime.open(mesh_settings(db_backend_url, tmp_path / "a", **doomed_env))
        try:
            hang = _Hang()
            doomed = runtime.enable_delivery()
            doomed.serve(hang)
            await doomed.start()
            [job_id] = await queue(runtime, welcome())
            await asyncio.wait_for(hang.entered.wait(), timeout=5)
        finally:
            await runtime.close()  # "dies": the attempt never records an outcome
        assert survivor.delivery is not None
        await survivor.delivery.start()
        [received] = await smtp_server.wait_for(1)
        row = await wait_job(survivor, job_id, lambda r: r.state == JobState.SENT)
    assert row.attempts == 2
    assert received.message_id == f"<{job_id}@{SENDER_DOMAIN}>"


@contextlib.asynccontextmanager
async def hung_holder(database_url: str, data_dir: Path, env: Mapping[str, str]) -> AsyncIterator[Runtime]:
    """A process whose dispatcher claimed the one job it queued and is stuck sending it (alive)."""
    runtime = await Runtime.open(mesh_settings(database_url, data_dir, **{**FAST, **env}))
    try:
        hang = _Hang()
        delivery = runtime.enable_delivery()
        delivery.serve(hang)
        await delivery.start()
        await queue(runtime, welcome())
        await asyncio.wait_for(hang.entered.wait(), timeout=5)
        yield runtime
    finally:
        await runtime.close()


async def set_due_time(runtime: Runtime, job_id: str, seconds_from_now: float) -> None:
    """Moves a job's due time (the end of its claim) to ``seconds_from_now`` on the database's clock."""
    async with runtime.db.core_session() as session:
        due = await database_after(session, seconds_from_now, precise=True)
        await session.execute(update(DeliveryRow).where(DeliveryRow.job_id == job_id).values(due_time=due))
        await session.commit()


@pytest.mark.parametrize(("holder_offset", "taker_offset"), [(0, 120), (-120, 0)], ids=["taker-ahead", "holder-behind"])
async def test_a_claim_holds_across_a_two_minute_clock_skew(
    db_backend_url: str,
    tmp_path: Path,
    smtp_server: SmtpTestServer,
    kek: str,
    monkeypatch: pytest.MonkeyPatch,
    holder_offset: int,
    taker_offset: int,
) -> None:
    # Claims are written and judged on the database's clock: a dispatcher 2 minutes ahead, or a
    # holder 2 minutes behind, must not see a live claim (60 s) as run out and send the job again.
    env = {
        **smtp_server.env(),
        "TENANTMESH_KEY_ENCRYPTION_KEY": kek,
        "TENANTMESH_DELIVERY_LEASE_SECONDS": "60",
        "TENANTMESH_SHUTDOWN_GRACE_SECONDS": "0.1",
    }
    monkeypatch.setattr(clock, "_OFFSET", timedelta(seconds=holder_offset))
    async with (
        hung_holder(db_backend_url, tmp_path / "holder", env) as holder,
        mail_runtime(db_backend_url, tmp_path / "taker", env, start=False) as taker,
    ):
        async with holder.db.core_session() as session:
            [job_id] = (await session.execute(select(DeliveryRow.job_id))).scalars()
        monkeypatch.setattr(clock, "_OFFSET", timedelta(seconds=taker_offset))
        assert taker.delivery is not None
        assert await taker.delivery.dispatcher.dispatch_once() == 0
        assert (await job(taker, job_id)).attempts == 1
        assert smtp_server.received == []
        # Once the claim has run out (its holder died, say), the job is taken over and sent.
        await set_due_time(taker, job_id, -1)
        assert await taker.delivery.dispatcher.dispatch_once() == 1
        row = await wait_job(taker, job_id, lambda r: r.state == JobState.SENT)
    assert row.attempts == 2
    assert [mail.message_id for mail in smtp_server.received] == [f"<{job_id}@{SENDER_DOMAIN}>"]


async def test_a_job_queued_by_a_process_two_minutes_ahead_is_sent_at_once(
    mailer: Runtime, smtp_server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new job is due on the clock dispatchers judge it by, not on its producer's.
    assert mailer.delivery is not None
    await mailer.delivery.stop()  # the producer's own dispatcher shares its clock: keep it out
    monkeypatch.setattr(clock, "_OFFSET", timedelta(minutes=2))
    [job_id] = await queue(mailer, welcome())
    monkeypatch.setattr(clock, "_OFFSET", timedelta(0))
    mailer.delivery.dispatcher.start()  # now a dispatcher with a right clock
    await smtp_server.wait_for(1)
    await wait_job(mailer, job_id, lambda r: r.state == JobState.SENT)


async def test_the_stored_row_never_holds_the_token_in_clear(mailer: Runtime, smtp_server: SmtpTestServer) -> None:
    assert mailer.delivery is not None
    await mailer.delivery.stop()  # hold the job, to look at it while queued
    token = secrets.token_urlsafe(24)
    [job_id] = await queue(mailer, welcome(token=token))

    async def raw_row() -> bytes:
        async with mailer.db.core_connection() as conn:
            row = (await conn.execute(text("SELECT * FROM delivery_jobs WHERE job_id = :id"), {"id": job_id})).one()
        return b"|".join(value if isinstance(value, bytes) else str(value).encode() for value in row)

    queued = await raw_row()
    assert token.encode() not in queued
    assert b"ada@acme.test" not in queued  # the address is sealed with the parameters

    mailer.delivery.dispatcher.start()
    [received] = await smtp_server.wait_for(1)
    assert token in received.text()
    await wait_job(mailer, job_id, lambda r: r.state == JobState.SENT)
    assert token.encode() not in await raw_row()


async def test_a_payload_sealed_under_another_key_is_dead_lettered(
    db_backend_url: str, tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    base = {**smtp_server.env()}
    async with mail_runtime(db_backend_url, tmp_path / "a", base, start=False) as old:
        [job_id] = await queue(old, welcome())
    # Restarted with another key-encryption key (a lost or mistyped key).
    async with mail_runtime(db_backend_url, tmp_path / "b", base) as new:
        row = await wait_job(new, job_id, lambda r: r.state == JobState.DEAD)
    assert row.dead_reason == DeadReason.PAYLOAD_UNREADABLE
    assert smtp_server.received == []


async def test_mistakes_fail_the_producer_when_queued(mailer: Runtime) -> None:
    params = dict(welcome().params)
    bad: list[tuple[Mail, type[Exception]]] = [
        (Mail(template="tests/nope", to="ada@acme.test", params=params), MailTemplateError),
        (Mail(template="tests/welcome", to="ada@acme.test", params={"name": "Ada"}), MailTemplateError),
        (Mail(template="tests/welcome", to="ada@acme.test", params={**params, "public_url": "x"}), MailTemplateError),
        (Mail(template="tests/welcome", to="ada@acme.test", params={**params, "when": object()}), ValueError),
        (Mail(template="tests/welcome", to="ada@acme.test\r\nBcc: eve@evil.test", params=params), ValueError),
        (Mail(template="tests/welcome", to="not-an-address", params=params), ValueError),
    ]
    for mail, error in bad:
        async with mailer.db.core_session() as session:
            with pytest.raises(error):
                queue_mail(session, mail)
            await session.commit()  # whatever the caller had added still commits; no mail with it
    async with mailer.db.core_session() as session:
        assert (await session.execute(select(DeliveryRow))).first() is None


async def test_only_core_sessions_of_a_mail_process_queue_mail(db_backend_url: str, tmp_path: Path) -> None:
    runtime = await Runtime.open(mesh_settings(db_backend_url, tmp_path))
    try:
        async with runtime.db.core_session() as session:
            with pytest.raises(DeliveryNotEnabled):
                queue_mail(session, welcome())
        runtime.enable_mail()
        placement = TenantDatabase(server="default", name=f"{runtime.db.tenant_db_prefix}mailtest")
        async with runtime.db.tenant_session(placement) as session:
            with pytest.raises(DeliveryNotEnabled):
                queue_mail(session, welcome())
    finally:
        await runtime.close()


async def test_without_smtp_mail_is_written_to_owner_only_files(
    db_backend_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tenantmesh.mail")
    token = secrets.token_urlsafe(24)
    async with mail_runtime(db_backend_url, tmp_path, {}) as runtime:
        [job_id] = await queue(runtime, welcome(token=token, locale="id"))
        await wait_job(runtime, job_id, lambda r: r.state == JobState.SENT)
    directory = tmp_path / "mail"
    path = directory / f"{job_id}.eml"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in directory.iterdir()] == [path.name]  # no temporary file left
    message = read_eml(path)
    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"] == f"<{job_id}@{SENDER_DOMAIN}>"
    assert link_in(body_of(message, "plain"), PUBLIC_URL) == f"{PUBLIC_URL}/accept?token={token}"
    assert "Halo Ada" in body_of(message, "html")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert str(path) in logged
    assert token not in logged
    assert "ada@acme.test" not in logged


async def test_operators_list_retry_and_discard_dead_letters_with_tenantctl(
    db_backend_url: str, tmp_path: Path, smtp_server: SmtpTestServer, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"DATABASE_URL": db_backend_url, "TENANTMESH_DATA_DIR": str(tmp_path)}

    async def tenantctl(*argv: str) -> str:
        assert await mail_command(build_parser().parse_args(["mail", *argv]), env) == 0
        return capsys.readouterr().out

    assert "no mail" in await tenantctl("dead-letters")  # nothing ever queued: no table, no error
    token = secrets.token_urlsafe(24)
    smtp_server.refuse("gone@acme.test")
    smtp_server.refuse("moved@acme.test")
    async with mail_runtime(db_backend_url, tmp_path, smtp_server.env()) as runtime:
        gone, moved = await queue(
            runtime, welcome(to="gone@acme.test", token=token), welcome(to="moved@acme.test", token=token)
        )
        for job_id in (gone, moved):
            await wait_job(runtime, job_id, lambda r: r.state == JobState.DEAD)

        listed = await tenantctl("dead-letters")
        assert gone in listed
        assert moved in listed
        assert DeadReason.REJECTED in listed
        assert token not in listed
        assert "@acme.test" not in listed  # addresses stay sealed

        smtp_server.accept("moved@acme.test")
        assert "queued again: 1" in await tenantctl("retry", moved)
        [received] = await smtp_server.wait_for(1)  # picked up at the next poll
        assert received.message_id == f"<{moved}@{SENDER_DOMAIN}>"
        assert "discarded: 1" in await tenantctl("discard", "--all")
        assert "0 dead letter(s)" in await tenantctl("dead-letters")
        assert (await job(runtime, moved)).state == JobState.SENT
