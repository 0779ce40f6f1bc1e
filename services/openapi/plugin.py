"""protoc's plugin protocol: a CodeGeneratorRequest on stdin, a CodeGeneratorResponse on stdout.

Run as ``protoc --plugin=protoc-gen-openapi=.venv/bin/protoc-gen-openapi --openapi_out=DIR``
with the public protos and ``google/rpc/status.proto`` + ``error_details.proto`` as inputs.
Options (``--openapi_opt=k=v,...``): ``file`` (output name, default
``tenantmesh.openapi.json``), ``title``, ``version`` (default: the installed project's).
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from typing import Any, BinaryIO

# The option extensions must be registered before the request is parsed, so that the
# options protoc sends arrive as extensions rather than unknown fields.
from buf.validate import validate_pb2  # noqa: F401
from google.api import annotations_pb2, field_behavior_pb2  # noqa: F401
from google.protobuf.compiler import plugin_pb2
from tenantmesh.type.v1 import access_pb2  # noqa: F401

from services.openapi.document import build_document

DEFAULT_FILE = "tenantmesh.openapi.json"


def parse_parameter(parameter: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in parameter.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"plugin option {item!r} is not key=value")
        options[key] = value
    return options


def render(document: dict[str, Any]) -> str:
    """Stable text: same protos, same bytes (``make gen-check`` compares them)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generate(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    response = plugin_pb2.CodeGeneratorResponse()
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    try:
        options = parse_parameter(request.parameter)
        version = options.get("version") or _project_version()
        document = build_document(
            list(request.proto_file),
            list(request.file_to_generate),
            title=options.get("title", "Tenantmesh API"),
            version=version,
        )
    except (ValueError, KeyError) as exc:
        response.error = f"protoc-gen-openapi: {exc}"
        return response
    out = response.file.add()
    out.name = options.get("file", DEFAULT_FILE)
    out.content = render(document)
    return response


def _project_version() -> str:
    try:
        return metadata.version("tenantmesh")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def main(stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    source = stdin or sys.stdin.buffer
    sink = stdout or sys.stdout.buffer
    request = plugin_pb2.CodeGeneratorRequest.FromString(source.read())
    sink.write(generate(request).SerializeToString())
    sink.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
