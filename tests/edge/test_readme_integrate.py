"""README "Integrate": its Python and TypeScript examples, exactly as written, against the
`make run` mesh, with the SDKs installed as the README says (fresh virtualenv / npm project)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.support.readme import readme_example
from tests.support.running_mesh import Integrator
from tests.support.sdk_build import TSC, run

from .test_sdk_python import platform_api_key

pytestmark = pytest.mark.edge


async def example_env(integrator: Integrator, name: str) -> dict[str, str]:
    mesh = integrator.mesh
    return {
        **os.environ,
        "TENANTMESH_URL": mesh.https_url,
        "TENANTMESH_CA": str(mesh.ca_file),
        "NODE_EXTRA_CA_CERTS": str(mesh.ca_file),
        "TENANTMESH_API_KEY": await platform_api_key(integrator, name),
    }


# Slow by design (thousands of calls / building and installing a package): beyond the default 120 s.
@pytest.mark.timeout(600)
async def test_the_python_example(integrator: Integrator, sdk_python: Path, tmp_path: Path) -> None:
    script = tmp_path / "integrate.py"
    script.write_text(readme_example("python"))
    env = await example_env(integrator, "readme-python")
    output = await asyncio.to_thread(run, sdk_python, script, cwd=tmp_path, env=env)
    assert "created globex TENANT_STATE_ACTIVE" in output, output
    assert "refused: FIELD_INVALID ['tenant.slug']" in output, output


# Slow by design (thousands of calls / building and installing a package): beyond the default 120 s.
@pytest.mark.timeout(600)
async def test_the_typescript_example(integrator: Integrator, sdk_typescript: Path) -> None:
    project = sdk_typescript
    (project / "integrate.ts").write_text(readme_example("typescript"))
    # What the README runs: npx tsc --strict --module nodenext --target es2022 --lib es2022,dom.
    compile_args = ("--strict", "--module", "nodenext", "--target", "es2022", "--lib", "es2022,dom", "integrate.ts")
    await asyncio.to_thread(run, TSC, *compile_args, cwd=project)
    env = await example_env(integrator, "readme-typescript")
    output = await asyncio.to_thread(run, "node", "integrate.js", cwd=project, env=env)
    assert "created initech TENANT_STATE_ACTIVE" in output, output
    assert "refused: FIELD_INVALID [ 'tenant.slug' ]" in output, output
