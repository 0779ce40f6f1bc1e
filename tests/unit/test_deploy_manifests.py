"""deploy/: every YAML parses, and every setting it names is one the code reads.

The names the code reads are taken from the source of services/runtime/config.py,
services/mesh/settings.py and any services/<name>/settings.py, so a renamed or removed
variable fails here instead of being silently ignored by a deployment. The ConfigMap,
the Secret template and the compose environment are also fed to the real settings
loaders, so their values must parse.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.mesh.settings import load_edge_settings
from services.runtime.config import DEFAULT_PORTS, load_settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
# The shared runtime's and the edge's settings, plus any service's own settings module
# (services/<name>/settings.py), so a service's variables are known as soon as it lands.
CONFIG_SOURCES = (
    REPO / "services/runtime/config.py",
    REPO / "services/mesh/settings.py",
    *sorted(p for p in (REPO / "services").glob("*/settings.py") if p.parent.name != "mesh"),
)
# The one variable name built with an f-string in config.py.
ADDR_PATTERN = 'f"TENANTMESH_{name.upper()}_ADDR"'
ENV_NAME = re.compile(r"\b(?:DATABASE_URL|REDIS_URL|TENANTMESH_[A-Z0-9_]*[A-Z0-9])\b")
# Any TENANTMESH_ token in a deploy file; one ending in "_" is a prefix (TENANTMESH_EDGE_*).
DEPLOY_TOKEN = re.compile(r"\bTENANTMESH_[A-Z0-9_]+")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def code_env_names() -> set[str]:
    names: set[str] = set()
    for source in CONFIG_SOURCES:
        text = source.read_text(encoding="utf-8")
        names |= set(ENV_NAME.findall(text))
        if ADDR_PATTERN in text:
            names |= {f"TENANTMESH_{name.upper()}_ADDR" for name in DEFAULT_PORTS}
    return names


KNOWN = code_env_names()


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def k8s_documents(*names: str) -> Iterator[dict[str, Any]]:
    for name in names:
        yield from load_all(K8S / name)


def env_example() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, values: Mapping[str, str]) -> str:
    """Compose-style ${VAR}, ${VAR:-default}, ${VAR:?message} with ``values``."""

    def substitute(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if name in values:
            return values[name]
        if op in (":-", "-"):
            return rest
        raise AssertionError(f"compose.yaml needs {name}, which .env.example does not set")

    return INTERPOLATION.sub(substitute, text).replace("$$", "$")


def compose() -> dict[str, Any]:
    text = interpolate((DEPLOY / "compose.yaml").read_text(encoding="utf-8"), env_example())
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def tenantmesh_services(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in document["services"].items()
        if str(service.get("image", "")).startswith("tenantmesh:")
    }


def configmap() -> dict[str, str]:
    [doc] = [d for d in k8s_documents("configmap.yaml") if d["kind"] == "ConfigMap"]
    data: dict[str, str] = doc["data"]
    return data


def secret_template() -> dict[str, str]:
    [doc] = [d for d in k8s_documents("secret.template.yaml") if d["metadata"]["name"] == "tenantmesh-secrets"]
    data: dict[str, str] = doc["stringData"]
    return data


def workloads() -> list[dict[str, Any]]:
    docs = list(k8s_documents("tenants.yaml", "envoy.yaml", "migrate-job.yaml"))
    return [d for d in docs if d["kind"] in {"Deployment", "Job"}]


def containers(workload: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return found


# --------------------------------------------------------------------------- parsing


def test_code_env_names_are_found() -> None:
    # Guards the grep itself: if these vanish, the checks below would pass vacuously.
    assert {"DATABASE_URL", "REDIS_URL", "TENANTMESH_TENANTS_ADDR", "TENANTMESH_EDGE_CONCURRENCY"} <= KNOWN


def test_there_are_manifests() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in yaml_files()}
    assert {"compose.yaml", "k8s/kustomization.yaml", "k8s/migrate-job.yaml"} <= names


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_every_yaml_parses(path: Path) -> None:
    documents = load_all(path)
    assert documents, f"{path} holds no document"
    assert all(isinstance(doc, dict) for doc in documents)


def test_kubernetes_documents_are_well_formed() -> None:
    for path in yaml_files():
        if path.parent != K8S or path.name == "kustomization.yaml":
            continue
        for doc in load_all(path):
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), path
            assert doc["metadata"].get("name") or doc["metadata"].get("generateName"), path


def test_kustomization_lists_existing_files_but_no_secret_or_job() -> None:
    kustomization = load_all(K8S / "kustomization.yaml")[0]
    resources = kustomization["resources"]
    for resource in resources:
        assert (K8S / resource).is_file(), resource
    # Placeholders must never be applied, and a Job's template cannot be re-applied.
    assert "secret.template.yaml" not in resources
    assert "migrate-job.yaml" not in resources
    assert kustomization["namespace"] == "tenantmesh"


# --------------------------------------------------------------------------- variable names


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(DEPLOY.rglob("*")) if p.is_file() and "__pycache__" not in p.parts],
    ids=lambda p: p.relative_to(DEPLOY).as_posix(),
)
def test_every_tenantmesh_variable_in_deploy_is_read_by_the_code(path: Path) -> None:
    for token in set(DEPLOY_TOKEN.findall(path.read_text(encoding="utf-8"))):
        if token.endswith("_"):
            assert any(name.startswith(token) for name in KNOWN), f"{path}: no variable starts with {token}"
        else:
            assert token in KNOWN, f"{path} names {token}, which no settings loader reads"


def test_compose_environment_is_read_by_the_code() -> None:
    services = tenantmesh_services(compose())
    assert {"tenants", "envoy"} <= services.keys()
    for name, service in services.items():
        unknown = set(service["environment"]) - KNOWN
        assert not unknown, f"compose service {name}: {sorted(unknown)} are read by no settings loader"


def test_compose_environment_loads() -> None:
    services = tenantmesh_services(compose())
    tenants_env = {k: str(v) for k, v in services["tenants"]["environment"].items()}
    settings = load_settings(tenants_env)
    assert settings.database.url.startswith("mysql+asyncmy://")
    assert settings.redis_url
    assert settings.bind_host == "0.0.0.0"
    edge_env = {k: str(v) for k, v in services["envoy"]["environment"].items()}
    edge = load_edge_settings(edge_env)
    assert edge.bind_address == "0.0.0.0"
    assert str(edge.tls_cert_file).startswith("/etc/tenantmesh/tls/")
    assert load_settings(edge_env).address_of("tenants") == settings.address_of("tenants")


def test_compose_interpolations_are_in_env_example() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    example = env_example()
    for name, op, _ in INTERPOLATION.findall(text):
        if op.endswith("?"):
            assert name in example, f"{name} is required by compose.yaml but missing from .env.example"


def test_env_example_holds_placeholders_only() -> None:
    for key, value in env_example().items():
        if "PASSWORD" in key:
            assert value.startswith("CHANGE-ME"), key


def test_k8s_config_and_secret_keys_are_read_by_the_code() -> None:
    for source, keys in (("ConfigMap", configmap()), ("Secret template", secret_template())):
        unknown = set(keys) - KNOWN
        assert not unknown, f"{source}: {sorted(unknown)} are read by no settings loader"
    for workload in workloads():
        for container in containers(workload):
            names = {item["name"] for item in container.get("env", [])}
            assert names <= KNOWN, f"{workload['kind']} {container['name']}: {sorted(names - KNOWN)}"


def test_k8s_config_loads_and_matches_the_probes() -> None:
    settings = load_settings({**configmap(), **secret_template()})
    edge = load_edge_settings(configmap())
    assert settings.database.tenant_servers.keys() >= {"db1", "db2"}
    assert edge.bind_address == "0.0.0.0"
    tenants_port = settings.port_of("tenants")
    [deployment] = [w for w in workloads() if w["metadata"].get("name") == "tenants"]
    [container] = containers(deployment)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == tenants_port
    [service] = [d for d in k8s_documents("tenants.yaml") if d["kind"] == "Service"]
    assert service["spec"]["clusterIP"] == "None"  # headless: Envoy balances over every pod
    assert service["spec"]["ports"][0]["port"] == tenants_port


def test_k8s_references_exist() -> None:
    configmaps = {d["metadata"]["name"] for d in k8s_documents("configmap.yaml")}
    secrets = {d["metadata"]["name"] for d in k8s_documents("secret.template.yaml")}
    for workload in workloads():
        spec = workload["spec"]["template"]["spec"]
        for container in containers(workload):
            assert container["image"].split(":")[0] == "tenantmesh"
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets
        assert spec["securityContext"]["runAsNonRoot"] is True


def test_every_deployment_has_a_pdb_and_an_hpa() -> None:
    docs = list(k8s_documents("tenants.yaml", "envoy.yaml"))
    deployments = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    assert deployments == {"tenants", "envoy"}
    hpas = {d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    pdbs = {d["metadata"]["name"] for d in docs if d["kind"] == "PodDisruptionBudget"}
    assert hpas == deployments
    assert pdbs == deployments
    for doc in docs:
        if doc["kind"] == "Deployment":
            assert "replicas" not in doc["spec"], "the HPA owns the replica count"
            for container in containers(doc):
                assert {"requests", "limits"} <= container["resources"].keys()


# --------------------------------------------------------------------------- image


def test_dockerfile_copies_existing_files_and_runs_unprivileged() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    copies = re.findall(r"^COPY (?!--from)(?:--\S+ )*(.+)$", text, re.MULTILINE)
    assert copies
    for line in copies:
        *sources, _destination = line.split()
        for source in sources:
            assert (REPO / source.rstrip("/")).exists(), f"Dockerfile copies missing {source}"
    assert "pip install -c requirements.lock ." in text
    assert re.search(r"^USER 10001", text, re.MULTILINE)
    assert 'ENTRYPOINT ["python", "-m"]' in text


@pytest.mark.parametrize("script", ["envoy-entrypoint.sh", "../mariadb/initdb/10-tenant-grants.sh"])
def test_shell_scripts_parse(script: str) -> None:
    subprocess.run(["bash", "-n", str(DEPLOY / "docker" / script)], check=True)


def test_envoy_entrypoint_execs_envoy() -> None:
    text = (DEPLOY / "docker" / "envoy-entrypoint.sh").read_text(encoding="utf-8")
    # Envoy sets PR_SET_PDEATHSIG: the shell must become Envoy, not stay its parent.
    assert re.search(r"^exec envoy\b", text, re.MULTILINE)
    assert "python -m services.mesh.render" in text
