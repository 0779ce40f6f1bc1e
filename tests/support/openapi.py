"""The generated OpenAPI document as a test oracle: operations by id, responses validated
against the schema the document gives for their status (JSON Schema 2020-12, formats
asserted)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[2]
DOCUMENT_PATH = REPO / "gen" / "openapi" / "tenantmesh.openapi.json"
_DOC_URI = "urn:tenantmesh:openapi"
# Where a request body's or a response's JSON schema sits below them in the document.
_JSON_SCHEMA = "/content/application~1json/schema"


def load_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text())
    return document


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def streaming(self) -> bool:
        return self.spec.get("x-stream") == "server"

    @property
    def raw_body(self) -> bool:
        """The success answer is a body of its own (google.api.HttpBody), not JSON."""
        return "application/json" not in self.spec["responses"]["200"].get("content", {})

    @property
    def public(self) -> bool:
        return self.spec.get("security") == []

    @property
    def scope(self) -> str:
        return str(self.spec.get("x-tenantmesh-access", {}).get("scope", ""))

    def url(self, **path_params: str) -> str:
        def fill(match: re.Match[str]) -> str:
            return path_params[match.group(1)]

        return re.sub(r"\{([^}]+)\}", fill, self.path)


@dataclass
class OpenApiOracle:
    document: dict[str, Any] = field(default_factory=load_document)

    def __post_init__(self) -> None:
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(_DOC_URI, resource)
        self.operations: dict[str, Operation] = {
            spec["operationId"]: Operation(spec["operationId"], method, path, spec)
            for path, item in self.document["paths"].items()
            for method, spec in item.items()
        }

    def operation(self, operation_id: str) -> Operation:
        return self.operations[operation_id]

    def response_errors(self, operation: Operation, status: int, body: Any) -> list[str]:
        """What is wrong with ``body`` as the answer ``status`` of ``operation`` (empty: nothing)."""
        responses = operation.spec["responses"]
        key = str(status) if str(status) in responses else "default"
        if key == "default" and 200 <= status < 300:
            return [f"status {status} is not documented"]
        content = responses[key].get("content", {}).get("application/json")
        if content is None:
            return [f"{key} has no JSON content"]
        return self._errors(_pointer("paths", operation.path, operation.method, "responses", key) + _JSON_SCHEMA, body)

    def request_body_errors(self, method: str, path: str, body: Any) -> list[str]:
        """What is wrong with ``body`` as the JSON request body of ``method path`` (empty: nothing)."""
        return self._errors(_pointer("paths", path, method.lower(), "requestBody") + _JSON_SCHEMA, body)

    def item_errors(self, operation: Operation, item: Any) -> list[str]:
        """What is wrong with one element of a server stream's JSON array."""
        return self._errors(
            _pointer("paths", operation.path, operation.method, "responses", "200") + _JSON_SCHEMA + "/items", item
        )

    def _errors(self, pointer: str, value: Any) -> list[str]:
        """``value`` checked against the schema at ``pointer`` in the document, formats asserted."""
        validator = Draft202012Validator(
            {"$ref": f"{_DOC_URI}#/{pointer}"}, registry=self.registry, format_checker=FormatChecker()
        )
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]


def json_body(response: httpx.Response) -> Any:
    assert response.headers.get("content-type", "").startswith("application/json"), (
        response.status_code,
        response.headers.get("content-type"),
        response.text[:300],
    )
    return response.json()
