"""The runtime's resource helpers (services/runtime/resources.py, paging.page_of) on a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import DateTime, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import DatabaseRouter
from services.runtime.errors import Aborted, InvalidArgument
from services.runtime.paging import page_of, page_request
from services.runtime.resources import bump_revision, check_etag, check_update_mask, stamps


class _Base(DeclarativeBase):
    metadata = MetaData()


class Thing(_Base):
    __tablename__ = "resource_things"

    owner: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(10), primary_key=True)
    title: Mapped[str] = mapped_column(String(40))
    revision: Mapped[int] = mapped_column(Integer)
    create_time: Mapped[datetime] = mapped_column(DateTime)
    update_time: Mapped[datetime] = mapped_column(DateTime)


@pytest.fixture
async def router(db_backend_url: str, tmp_path: Path) -> AsyncIterator[DatabaseRouter]:
    db = DatabaseRouter(db_backend_url, sqlite_dir=tmp_path)
    await db.start()
    async with db.core_connection() as conn:
        await conn.run_sync(_Base.metadata.create_all)
        await conn.commit()
    try:
        yield db
    finally:
        await db.dispose()


async def test_a_revision_bump_wins_once(router: DatabaseRouter) -> None:
    created = datetime(2026, 1, 1)
    async with router.core_session() as session:
        session.add(Thing(owner="o", name="n", title="first", revision=1, create_time=created, update_time=created))
        await session.commit()
    async with router.core_session() as first, router.core_session() as second:
        mine = await first.get_one(Thing, ("o", "n"))
        theirs = await second.get_one(Thing, ("o", "n"))
        await bump_revision(first, mine, "thing", title="mine")
        await first.commit()
        # The second writer read revision 1 too: it loses, and writes nothing.
        with pytest.raises(Aborted) as lost:
            await bump_revision(second, theirs, "thing", title="theirs")
        assert lost.value.reason == "ETAG_MISMATCH"
    async with router.core_session() as session:
        row = await session.get_one(Thing, ("o", "n"))
        assert (row.title, row.revision) == ("mine", 2)
        assert row.update_time > created
        assert stamps(row)["etag"] == "2"
        assert set(stamps(row)) == {"create_time", "update_time", "etag"}


def test_etags_and_masks() -> None:
    check_etag(3, "", "thing")
    check_etag(3, "3", "thing")
    with pytest.raises(Aborted):
        check_etag(3, "2", "thing")
    check_update_mask(["title"], ("title", "labels"))
    for mask in ([], ["title.sub"], ["revision"]):
        with pytest.raises(InvalidArgument) as refused:
            check_update_mask(mask, ("title", "labels"))
        assert [v.field for v in refused.value.violations] == ["update_mask"]


def test_a_page_continues_after_its_last_key() -> None:
    page, marker = page_request(2, "", "filters")
    first = page_of(["a", "b", "c"], page, marker, str)
    assert first.items == ["a", "b"]
    following, _ = page_request(2, first.next_page_token, "filters")
    assert following.after == "b"
    assert page_of(["a", "b"], page, marker, str).next_page_token == ""
