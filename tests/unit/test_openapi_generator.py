"""The OpenAPI plugin (services/openapi) run by protoc over a service it has never seen.

tests/unit/openapi_fixture/widgets holds a proto with every mapping the transcoder does
(path, query, body field, body "*", nested path variables, additional bindings, int64,
enums, well-known types, maps, field behaviours, protovalidate rules, access policies,
a server stream, methods and a service without bindings). The document must describe
it exactly, through protoc's real plugin protocol.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

from services.openapi.descriptors import ProtoIndex
from services.openapi.plugin import parse_parameter
from services.openapi.schemas import SchemaBuilder

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "openapi_fixture"
PLUGIN = Path(sys.executable).parent / "protoc-gen-openapi"


def generate(out: Path, *protos: str, option: str = "") -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{FIXTURE}",
        f"-I{REPO / 'protos'}",
        f"-I{REPO / 'protos' / 'vendor'}",
        f"-I{Path(protoc.__file__).parent / '_proto'}",
        f"--plugin=protoc-gen-openapi={PLUGIN}",
        f"--openapi_out={option + ':' if option else ''}{out}",
        *protos,
        "google/rpc/status.proto",
        "google/rpc/error_details.proto",
    ]
    assert protoc.main(args) == 0
    name = parse_parameter(option).get("file", "tenantmesh.openapi.json")
    document: dict[str, Any] = json.loads((out / name).read_text())
    return document


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return generate(tmp_path_factory.mktemp("openapi"), "widgets/v1/widget_service.proto")


def schema(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = doc["components"]["schemas"][name]
    return found


def params(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p.get("name", p.get("$ref")): p for p in operation.get("parameters", [])}


def test_every_binding_is_an_operation_and_unbound_methods_are_not(doc: dict[str, Any]) -> None:
    operations = {op["operationId"]: (verb, path) for path, item in doc["paths"].items() for verb, op in item.items()}
    assert operations == {
        "WidgetService_CreateWidget": ("post", "/v1/widgets"),
        "WidgetService_GetWidget": ("get", "/v1/widgets/{widgetId}"),
        "WidgetService_GetWidget_2": ("get", "/v1/widgets:byName"),
        "WidgetService_UpdateWidget": ("patch", "/v1/widgets/{widgetId}"),
        "WidgetService_SpinWidget": ("post", "/v1/widgets/{widgetId}:spin"),
        "WidgetService_WatchWidgets": ("get", "/v1/widgets:watch"),
    }
    assert [t["name"] for t in doc["tags"]] == ["WidgetService"]
    assert doc["openapi"] == "3.1.0"


def test_body_field_and_query_parameters(doc: dict[str, Any]) -> None:
    create = doc["paths"]["/v1/widgets"]["post"]
    assert create["requestBody"]["required"] is True
    # The request form carries the rules; the response form (what the edge sends) does not.
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/widgets.v1.Widget-Input"
    }
    assert create["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/widgets.v1.Widget"
    }
    request_id = params(create)["requestId"]
    assert request_id["in"] == "query"
    # IGNORE_IF_ZERO_VALUE: the empty string stays valid, anything else must be a uuid.
    assert request_id["schema"]["pattern"].startswith("^$|")
    assert "#/components/parameters/TenantHeader" in params(create)


def test_path_bound_fields_leave_the_body(doc: dict[str, Any]) -> None:
    update = doc["paths"]["/v1/widgets/{widgetId}"]["patch"]
    path_param = params(update)["widgetId"]
    assert path_param["in"] == "path"
    assert path_param["x-field-path"] == "widget.widgetId"
    body = update["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["widgetId"] is False
    assert body["properties"]["displayName"]["maxLength"] == 40
    mask = params(update)["updateMask"]["schema"]
    assert mask["type"] == "string"
    # The paths the service takes, and nothing below them (which every service refuses).
    assert re.fullmatch(mask["pattern"].strip("^$"), "displayName")
    assert not re.fullmatch(mask["pattern"].strip("^$"), "displayName.first")

    spin = doc["paths"]["/v1/widgets/{widgetId}:spin"]["post"]
    spin_body = spin["requestBody"]["content"]["application/json"]["schema"]
    assert spin_body["properties"]["widgetId"] is False
    assert value(spin_body["properties"]["speed"]) == {
        "type": "integer",
        "format": "int32",
        "minimum": 1,
        "maximum": 10,
        "description": "How fast, 1-10.",
    }
    assert "parameters" not in spin or all(p["in"] == "path" for p in spin["parameters"])


def test_additional_binding_puts_the_oneof_in_the_query(doc: dict[str, Any]) -> None:
    by_name = doc["paths"]["/v1/widgets:byName"]["get"]
    assert {"widgetId", "name"} <= set(params(by_name))
    by_id = doc["paths"]["/v1/widgets/{widgetId}"]["get"]
    assert params(by_id)["widgetId"]["schema"]["format"] == "uuid"
    assert params(by_id)["name"]["in"] == "query"


def value(prop: dict[str, Any]) -> dict[str, Any]:
    """A request property without its "or null" (annotations kept)."""
    if prop.get("anyOf", [None])[-1] == {"type": "null"}:
        inner = dict(prop["anyOf"][0])
        return {**inner, **{k: v for k, v in prop.items() if k != "anyOf"}}
    return prop


def test_transcoder_json_forms(doc: dict[str, Any]) -> None:
    widget = schema(doc, "widgets.v1.Widget-Input")
    props = {name: value(prop) for name, prop in widget["properties"].items()}
    assert props["count"]["type"] == "string"  # int64
    assert props["count"]["format"] == "int64"
    assert props["createTime"]["format"] == "date-time"
    assert props["createTime"]["readOnly"] is True
    assert props["extra"]["type"] == "object"
    assert props["spin"]["pattern"].endswith("s$")
    assert props["blob"]["contentEncoding"] == "base64"
    assert props["labels"] == {
        "type": "object",
        "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "maxProperties": 4,
        "description": "Labels.",
    }
    assert props["tags"]["maxItems"] == 3
    assert value(props["tags"]["items"])["maxLength"] == 5
    # not_in: [0] drops UNSPECIFIED; the enum travels by name.
    assert props["colour"]["enum"] == ["COLOUR_RED", "COLOUR_BLUE"]
    assert schema(doc, "widgets.v1.Colour")["enum"] == ["COLOUR_UNSPECIFIED", "COLOUR_RED", "COLOUR_BLUE"]
    assert "`COLOUR_RED`: Red." in schema(doc, "widgets.v1.Colour")["description"]
    assert props["displayName"]["x-field-behavior"] == ["REQUIRED", "IMMUTABLE"]
    assert widget["required"] == ["displayName"]
    assert "additionalProperties" not in widget  # the edge ignores unknown fields
    assert widget["description"] == "A widget."
    spins = schema(doc, "widgets.v1.SpinWidgetResponse")["properties"]["spins"]
    assert spins["type"] == "string"  # uint64


def test_null_is_allowed_where_the_edge_reads_it_as_a_valid_unset(doc: dict[str, Any]) -> None:
    props = schema(doc, "widgets.v1.Widget-Input")["properties"]

    def nullable(prop: dict[str, Any]) -> bool:
        return bool(prop.get("anyOf", [None])[-1] == {"type": "null"})

    assert nullable(props["count"])  # "0" is a valid count
    assert nullable(props["labels"])  # an empty map
    assert nullable(props["extra"])  # an unset message
    assert nullable(props["tags"]["anyOf"][0]["items"])  # a null item is dropped
    assert not nullable(props["displayName"])  # required
    assert not nullable(props["colour"])  # its zero, COLOUR_UNSPECIFIED, is refused
    spin = doc["paths"]["/v1/widgets/{widgetId}:spin"]["post"]["requestBody"]["content"]["application/json"]
    assert not nullable(spin["schema"]["properties"]["speed"])  # 0 is below its minimum


def test_the_response_form_promises_types_not_input_rules(doc: dict[str, Any]) -> None:
    output = schema(doc, "widgets.v1.Widget")
    props = output["properties"]
    assert "required" not in output
    assert props["displayName"] == {
        "type": "string",
        "description": "Unique name.",
        "x-field-behavior": ["REQUIRED", "IMMUTABLE"],
    }
    assert props["colour"] == {"$ref": "#/components/schemas/widgets.v1.Colour", "description": "Its colour."}
    assert props["labels"]["additionalProperties"] == {"type": "string"}
    assert "maxProperties" not in props["labels"]
    # Request-only messages have no response form.
    assert "widgets.v1.CreateWidgetRequest" not in doc["components"]["schemas"]


def test_oneofs_are_exactly_one_when_required(tmp_path: Path) -> None:
    # GET requests are not bodies, so the request message is no component of the document;
    # the builder still states the oneof rule for any message that is one.
    descriptor_set = tmp_path / "widgets.binpb"
    args = [
        "protoc",
        f"-I{FIXTURE}",
        f"-I{REPO / 'protos'}",
        f"-I{REPO / 'protos' / 'vendor'}",
        f"-I{Path(protoc.__file__).parent / '_proto'}",
        "--include_imports",
        "--include_source_info",
        f"--descriptor_set_out={descriptor_set}",
        "widgets/v1/widget_service.proto",
    ]
    assert protoc.main(args) == 0
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file
    builder = SchemaBuilder(ProtoIndex.build(files))
    request = builder.message_schema("widgets.v1.GetWidgetRequest", request=True)
    assert request["allOf"] == [{"oneOf": [{"required": ["widgetId"]}, {"required": ["name"]}]}]
    assert request["properties"]["widgetId"]["format"] == "uuid"


def test_access_policy_security_and_errors(doc: dict[str, Any]) -> None:
    get = doc["paths"]["/v1/widgets/{widgetId}"]["get"]
    assert get["x-tenantmesh-access"] == {
        "public": False,
        "scope": "TENANT",
        "permission": "widgets.widgets.get",
        "platformOverride": True,
    }
    assert get["security"] == [{"bearerAuth": []}]
    assert get["x-grpc-method"] == "/widgets.v1.WidgetService/GetWidget"
    assert {"400", "401", "403", "404", "429", "503", "default"} <= set(get["responses"])
    for status, response in get["responses"].items():
        if status != "200":
            assert response["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/google.rpc.Status"
            }

    spin = doc["paths"]["/v1/widgets/{widgetId}:spin"]["post"]
    assert spin["security"] == []
    assert spin["x-tenantmesh-access"] == {"public": True, "scope": "UNSPECIFIED"}
    assert "401" not in spin["responses"]

    create = doc["paths"]["/v1/widgets"]["post"]
    assert "WIDGET_EXISTS" in create["responses"]["409"]["description"]
    assert create["summary"] == "Creates a widget"


def test_server_stream_is_a_json_array(doc: dict[str, Any]) -> None:
    watch = doc["paths"]["/v1/widgets:watch"]["get"]
    assert watch["x-stream"] == "server"
    body = watch["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"type": "array", "items": {"$ref": "#/components/schemas/widgets.v1.Widget"}}
    # Nested message fields become dotted query parameters.
    assert {"filter.colours", "filter.since"} <= set(params(watch))
    assert params(watch)["filter.colours"]["explode"] is True


def test_error_body_is_google_rpc_status(doc: dict[str, Any]) -> None:
    status = schema(doc, "google.rpc.Status")
    refs = [item.get("$ref") for item in status["properties"]["details"]["items"]["anyOf"]]
    assert "#/components/schemas/google.rpc.ErrorInfo" in refs
    assert "#/components/schemas/google.rpc.BadRequest" in refs
    error_info = schema(doc, "google.rpc.ErrorInfo")
    assert error_info["properties"]["@type"] == {"const": "type.googleapis.com/google.rpc.ErrorInfo"}


def test_options_and_stable_output(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", "widgets/v1/widget_service.proto", option="file=w.json,version=9.9.9")
    generate(tmp_path / "b", "widgets/v1/widget_service.proto", option="file=w.json,version=9.9.9")
    assert first["info"]["version"] == "9.9.9"
    assert (tmp_path / "a" / "w.json").read_bytes() == (tmp_path / "b" / "w.json").read_bytes()


def test_a_bad_option_is_a_protoc_error(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    with pytest.raises(AssertionError):
        generate(tmp_path / "x", "widgets/v1/widget_service.proto", option="nonsense")


def test_the_committed_document_covers_every_bound_rpc_and_nothing_internal() -> None:
    document = json.loads((REPO / "gen" / "openapi" / "tenantmesh.openapi.json").read_text())
    in_document = {op["x-grpc-method"] for item in document["paths"].values() for op in item.values()}
    fds = descriptor_pb2.FileDescriptorSet.FromString((REPO / "gen" / "descriptor.binpb").read_bytes())
    bound = {
        f"/{file.package}.{service.name}/{method.name}"
        for file in fds.file
        if file.package.startswith("tenantmesh.")
        for service in file.service
        for method in service.method
        if method.options.HasExtension(annotations_pb2.http)
    }
    assert in_document == bound
    assert not any("lifecycle" in method for method in in_document)


def test_http_bodies_are_raw_bodies_in_the_committed_document() -> None:
    """The edge takes and gives google.api.HttpBody as the bytes themselves, never as JSON."""
    document = json.loads((REPO / "gen" / "openapi" / "tenantmesh.openapi.json").read_text())
    raw = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
    assert document["paths"]["/v1/files:upload"]["post"]["requestBody"]["content"] == raw
    assert document["paths"]["/v1/files/{fileId}:download"]["get"]["responses"]["200"]["content"] == raw
    assert not [name for name in document["components"]["schemas"] if "HttpBody" in name]


def test_creates_link_to_the_operations_on_what_they_made(doc: dict[str, Any]) -> None:
    links = doc["paths"]["/v1/widgets"]["post"]["responses"]["200"]["links"]
    assert set(links) == {"WidgetService_GetWidget", "WidgetService_UpdateWidget", "WidgetService_SpinWidget"}
    assert links["WidgetService_GetWidget"] == {
        "operationId": "WidgetService_GetWidget",
        "parameters": {"widgetId": "$response.body#/widgetId"},
    }


def test_an_rpc_rendering_another_as_json_is_documented_as_that_rpcs_operation(tmp_path: Path) -> None:
    """REST clients see one typed operation: the rendering's binding first (the operation id and
    response schema of the RPC it renders, x-grpc-method the RPC the edge calls), then the typed
    RPC's own binding."""
    document = generate(tmp_path, "gadgets/v1/gadget_service.proto")
    rendered = document["paths"]["/v1/gadgets/{gadgetId}"]["get"]
    typed = document["paths"]["/v1/gadgets/{gadgetId}:typed"]["get"]
    assert (rendered["operationId"], typed["operationId"]) == ("GadgetService_GetGadget", "GadgetService_GetGadget_2")
    gadget = {"application/json": {"schema": {"$ref": "#/components/schemas/gadgets.v1.Gadget"}}}
    assert rendered["responses"]["200"]["content"] == typed["responses"]["200"]["content"] == gadget
    assert rendered["x-grpc-method"] == "/gadgets.v1.GadgetService/GetGadgetJson"
    assert rendered["x-tenantmesh-access"]["permission"] == "gadgets.gadgets.get_json"
    assert typed["x-grpc-method"] == "/gadgets.v1.GadgetService/GetGadget"
    assert rendered["description"] == typed["description"] == "Returns a gadget."


def test_a_rendering_that_is_not_an_http_body_is_a_protoc_error(tmp_path: Path) -> None:
    with pytest.raises(AssertionError):
        generate(tmp_path, "gadgets/v1/wrong_rendering.proto")
