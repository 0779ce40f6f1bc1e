"""Compiles the sample service's proto (tests/sample/protos) for the tests that run it.

The sample is not part of the platform's API, so ``make gen`` does not build it:
its Python modules are generated here into a directory of their own, made
importable as ``tenantmesh.notes.v1``, and a descriptor set of every platform
proto plus the sample's is written for an edge in front of it.
"""

from __future__ import annotations

import functools
import importlib
import sys
import tempfile
from pathlib import Path

import tenantmesh
from grpc_tools import protoc

REPO = Path(__file__).resolve().parents[2]
SAMPLE_PROTOS = REPO / "tests" / "sample" / "protos"
SAMPLE_FILES = ("tenantmesh/notes/v1/note_service.proto",)


@functools.cache
def compile_sample() -> Path:
    """Generates and imports the sample's modules (once per process); returns the descriptor set."""
    out = Path(tempfile.mkdtemp(prefix="tenantmesh-sample-"))
    grpc_include = Path(protoc.__file__).parent / "_proto"
    includes = [f"-I{path}" for path in (REPO / "protos", REPO / "protos" / "vendor", SAMPLE_PROTOS, grpc_include)]
    platform_files = sorted(
        str(p.relative_to(REPO / "protos")) for p in (REPO / "protos" / "tenantmesh").rglob("*.proto")
    )
    descriptor = out / "descriptor.binpb"
    for args in (
        [*includes, f"--python_out={out}", f"--grpc_python_out={out}", *SAMPLE_FILES],
        [
            *includes,
            "--include_imports",
            f"--descriptor_set_out={descriptor}",
            *platform_files,
            *SAMPLE_FILES,
            "google/rpc/status.proto",
            "google/rpc/error_details.proto",
        ],
    ):
        if protoc.main(["protoc", *args]) != 0:
            raise RuntimeError(f"protoc failed: {args}")
    # tenantmesh is the generated platform package: the sample's package joins it.
    tenantmesh.__path__.append(str(out / "tenantmesh"))
    importlib.invalidate_caches()
    importlib.import_module("tenantmesh.notes.v1.note_service_pb2_grpc")
    assert "tenantmesh.notes.v1.note_service_pb2" in sys.modules
    return descriptor
