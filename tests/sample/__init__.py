"""The sample service of docs/adding-a-service.md: a tenant's notes, built with the service kit.

Kept in tests, never shipped. A real service's manifest line goes into
services/manifest.py; this one's is here, added to the platform's for the
tests that run it (tests/grpc/test_sample_service.py, tests/edge/test_sample_service_rest.py).
Its proto is compiled by those tests (tests/support/sample_protos.py).
"""

from services.manifest import PLATFORM
from services.runtime.manifest import ServiceSpec

NOTES = ServiceSpec("notes", 50090, "tests.sample.app:NotesApp", api=("tenantmesh.notes.v1",), tenant_scoped=True)
MANIFEST = PLATFORM.with_services(NOTES)
