"""Deploy files generated from the service manifest.

    python -m services.mesh.deploy            write them (after changing services/manifest.py)
    python -m services.mesh.deploy --check    exit 1 and name the stale files if any differs

What depends on the list of services is rendered from the manifest with the
templates in deploy/templates/: docker compose (one container per built
service, every service's address, the edge's routes), the Kubernetes
manifests of each service, the kustomization, the ConfigMap, the edge's
Deployment, the mesh certificates (cert-manager) and the NetworkPolicies,
Prometheus' scrape config and the Grafana dashboards (services/mesh/dashboards.py)
under deploy/observability/, and the table of services in deploy/README.md
(between its ``manifest`` markers). Everything else in those files is template text; a
test (tests/unit/test_deploy_manifests.py) fails when a committed file is not
what this renders.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import jinja2

from services.mesh.dashboards import DASHBOARDS, render_dashboard
from services.mesh.render import default_services
from services.runtime.config import platform_manifest
from services.runtime.manifest import Manifest
from services.runtime.mesh_tls import EDGE, TENANTCTL

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
TEMPLATE_DIR = DEPLOY_DIR / "templates"
OBSERVABILITY_DIR = DEPLOY_DIR / "observability"
README = DEPLOY_DIR / "README.md"
README_BEGIN = "<!-- manifest:begin (python -m services.mesh.deploy writes this table) -->"
README_END = "<!-- manifest:end -->"


def _comment(text: str, indent: int = 0, width: int = 92) -> str:
    """``text`` as YAML comment lines, wrapped."""
    prefix = " " * indent + "# "
    return "\n".join(prefix + line for line in textwrap.wrap(text, width - len(prefix))) if text else ""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - YAML and Markdown, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["comment"] = _comment
    return env


def render_files(manifest: Manifest) -> dict[Path, str]:
    """Every generated file (its path under the repository) and its text."""
    env = _environment()
    built = manifest.built
    context = {
        "manifest": manifest,
        "built": built,
        "reserved": [spec for spec in manifest if not spec.built],
        "routed": default_services(manifest),
        "lifecycle": manifest.tenant_scoped,
        # Who gets a mesh certificate: every built service, the edge and tenantctl.
        "identities": [*(spec.name for spec in built), EDGE, TENANTCTL],
    }
    files = {
        DEPLOY_DIR / "compose.yaml": env.get_template("compose.yaml.j2").render(context),
        DEPLOY_DIR / "k8s" / "kustomization.yaml": env.get_template("kustomization.yaml.j2").render(context),
        DEPLOY_DIR / "k8s" / "configmap.yaml": env.get_template("configmap.yaml.j2").render(context),
        DEPLOY_DIR / "k8s" / "envoy.yaml": env.get_template("envoy.yaml.j2").render(context),
        DEPLOY_DIR / "k8s" / "mesh-tls.yaml": env.get_template("mesh-tls.yaml.j2").render(context),
        DEPLOY_DIR / "k8s" / "network-policies.yaml": env.get_template("network-policies.yaml.j2").render(context),
        OBSERVABILITY_DIR / "prometheus.yml": env.get_template("prometheus.yml.j2").render(context),
    }
    for dashboard in DASHBOARDS:
        files[OBSERVABILITY_DIR / "grafana" / "dashboards" / f"{dashboard.uid}.json"] = render_dashboard(dashboard)
    service = env.get_template("k8s-service.yaml.j2")
    for spec in built:
        files[DEPLOY_DIR / "k8s" / f"{spec.name}.yaml"] = service.render(context, spec=spec)
    table = env.get_template("readme-services.md.j2").render(context)
    files[README] = _with_block(README.read_text(encoding="utf-8"), table)
    return files


def _with_block(text: str, block: str) -> str:
    before, begin, rest = text.partition(README_BEGIN)
    _, end, after = rest.partition(README_END)
    if not begin or not end:
        raise ValueError(f"{README} lacks the manifest markers")
    return f"{before}{README_BEGIN}\n{block}{README_END}{after}"


def stale_files(manifest: Manifest) -> list[Path]:
    return [
        path
        for path, text in render_files(manifest).items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.mesh.deploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only report files that differ from the manifest")
    args = parser.parse_args(argv)
    manifest = platform_manifest()
    if args.check:
        stale = stale_files(manifest)
        for path in stale:
            print(f"stale: {path.relative_to(REPO_ROOT)} (run python -m services.mesh.deploy)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in render_files(manifest).items():
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
