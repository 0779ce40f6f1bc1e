"""The forms service as its files make it today (services/forms/files/app.py), for the tests
that run it: the platform's manifest with the forms line given its app.

The platform's own manifest line takes the app when the rest of the forms service joins it;
until then no tenant is provisioned in a forms service that does not run.
"""

from __future__ import annotations

from services.manifest import PLATFORM
from services.runtime.manifest import Manifest, ServiceSpec

FORMS = ServiceSpec(
    "forms", 50054, "services.forms.files.app:FormsApp", api=("tenantmesh.forms.v1",), tenant_scoped=True
)
MANIFEST = Manifest(tuple(FORMS if spec.name == "forms" else spec for spec in PLATFORM.services))
