"""deploy/: every YAML parses, and every setting it names is one the code reads.

The names the code reads are taken from the source of services/runtime/config.py,
services/mesh/settings.py, any services/<name>/settings.py and tenantctl, so a renamed or
removed variable fails here instead of being silently ignored by a deployment. The
ConfigMap, the Secret templates and the compose environment are also fed to the real
settings loaders, so their values must parse. Every built service of the manifest
(services/manifest.py) must be deployed by compose and Kubernetes and routed by the edge,
and the generated files must be what the manifest renders (services/mesh/deploy.py).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.auth.settings import load_auth_settings
from services.manifest import PLATFORM
from services.mesh import deploy, render
from services.mesh.settings import load_edge_settings
from services.runtime.config import ConfigError, load_settings
from services.runtime.manifest import Manifest
from services.runtime.mesh_tls import DEFAULT_TRUST_DOMAIN, EDGE, TENANTCTL, MeshTls, spiffe_id

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
# The shared runtime's and the edge's settings, plus any service's own settings module
# (services/<name>/settings.py), so a service's variables are known as soon as it lands,
# and the operator CLI the migrate Job runs (TENANTMESH_API_KEY).
CONFIG_SOURCES = (
    REPO / "services/runtime/config.py",
    REPO / "services/mesh/settings.py",
    # Every settings module (services' own, and the runtime's: storage, delivery, mail).
    *sorted(p for p in (REPO / "services").rglob("settings.py") if p.parent.name != "mesh"),
    REPO / "services/cli/tenantctl.py",
)
ENV_NAME = re.compile(r"\b(?:DATABASE_URL|REDIS_URL|OTEL_[A-Z0-9_]*[A-Z0-9]|TENANTMESH_[A-Z0-9_]*[A-Z0-9])\b")
# Any TENANTMESH_ token in a deploy file; one ending in "_" is a prefix (TENANTMESH_EDGE_*).
DEPLOY_TOKEN = re.compile(r"\bTENANTMESH_[A-Z0-9_]+")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
# Secrets by name: empty in .env.example, required by compose.yaml.
SECRET_NAME = re.compile(r"PASSWORD|_KEY$")
# The built services of the manifest, hence the ones a deployment runs one container each of.
SERVICES = tuple(spec.name for spec in PLATFORM.built)
ROUTED = tuple(spec.name for spec in PLATFORM.built if spec.api)
PORTS = {spec.name: spec.port for spec in PLATFORM}


def code_env_names() -> set[str]:
    # Every service's address variable is read by config.py (ServiceSpec.address_variable).
    names: set[str] = {spec.address_variable for spec in PLATFORM}
    for source in CONFIG_SOURCES:
        names |= set(ENV_NAME.findall(source.read_text(encoding="utf-8")))
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


def operator_env() -> dict[str, str]:
    """.env.example with its empty secrets filled in, as the README tells the operator to."""
    values = env_example()
    generated = {
        "TENANTMESH_KEY_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
        "TENANTMESH_SERVICE_API_KEY": f"tmk_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}",
    }
    for key, value in values.items():
        if SECRET_NAME.search(key) and not value:
            values[key] = generated.get(key, secrets.token_hex(24))
    return values


def interpolate(text: str, values: Mapping[str, str]) -> str:
    """Compose-style ${VAR}, ${VAR-default}, ${VAR:-default}, ${VAR?msg}, ${VAR:?msg} with ``values``."""

    def substitute(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        value = values.get(name)
        # The ":" forms treat an empty value like an unset one.
        missing = value is None or (value == "" and op is not None and op.startswith(":"))
        if not missing:
            assert value is not None
            return value
        if op in (":-", "-"):
            return rest
        raise AssertionError(f"compose.yaml needs {name}, which is not set")

    return INTERPOLATION.sub(substitute, text).replace("$$", "$")


def compose(values: Mapping[str, str] | None = None) -> dict[str, Any]:
    values = operator_env() if values is None else values
    text = interpolate((DEPLOY / "compose.yaml").read_text(encoding="utf-8"), values)
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in service["environment"].items()}


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


def secret_templates() -> dict[str, dict[str, str]]:
    """Opaque Secrets of the template by name (the TLS Secret is not settings)."""
    return {
        d["metadata"]["name"]: d["stringData"] for d in k8s_documents("secret.template.yaml") if d["type"] == "Opaque"
    }


def secret_template() -> dict[str, str]:
    return secret_templates()["tenantmesh-secrets"]


def service_manifests() -> tuple[str, ...]:
    return tuple(f"{name}.yaml" for name in SERVICES)


def workloads() -> list[dict[str, Any]]:
    docs = list(k8s_documents(*service_manifests(), "envoy.yaml", "migrate-job.yaml"))
    return [d for d in docs if d["kind"] in {"Deployment", "Job"}]


def workload(name: str) -> dict[str, Any]:
    # The migrate Job has a generateName ("tenantmesh-migrate-"), not a name.
    [found] = [w for w in workloads() if (w["metadata"].get("name") or w["metadata"]["generateName"]) == name]
    return found


def container_env(container: Mapping[str, Any], config: Mapping[str, str]) -> dict[str, str]:
    """The environment a container gets from envFrom (ConfigMap and Secret templates) and env."""
    templates = secret_templates()
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config)
        if "secretRef" in source:
            env.update(templates[source["secretRef"]["name"]])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = templates[ref["name"]][ref["key"]]
    return env


def containers(workload: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return found


# --------------------------------------------------------------------------- parsing


def test_code_env_names_are_found() -> None:
    # Guards the grep itself: if these vanish, the checks below would pass vacuously.
    assert {
        "DATABASE_URL",
        "REDIS_URL",
        "TENANTMESH_TENANTS_ADDR",
        "TENANTMESH_AUTH_ADDR",
        "TENANTMESH_EDGE_CONCURRENCY",
        "TENANTMESH_SERVICE_API_KEY",
        "TENANTMESH_KEY_ENCRYPTION_KEY",
        "TENANTMESH_ADMIN_PASSWORD",
        "TENANTMESH_API_KEY",
    } <= KNOWN
    assert {"tenants", "auth"} <= set(SERVICES)


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
    assert {*SERVICES, "envoy", "tenantctl"} <= services.keys()
    for name, service in services.items():
        unknown = set(service["environment"]) - KNOWN
        assert not unknown, f"compose service {name}: {sorted(unknown)} are read by no settings loader"


def test_compose_environment_loads(tmp_path: Path) -> None:
    values = operator_env()
    services = tenantmesh_services(compose(values))
    for name in SERVICES:
        service = services[name]
        assert service["command"] == ["services.mesh", "serve", name]
        settings = load_settings(environment(service))
        assert settings.database.url.startswith("mysql+asyncmy://")
        assert settings.redis_url
        assert settings.bind_host == "0.0.0.0"
        assert settings.service_api_key == values["TENANTMESH_SERVICE_API_KEY"]
        # The health check speaks mesh TLS with the container's own certificate.
        assert service["healthcheck"]["test"][-3:] == [f"127.0.0.1:{settings.port_of(name)}", "--mesh-name", name]
        assert settings.port_of(name) == PORTS[name]
        assert_mesh_tls_files(settings.mesh_tls)
        assert service["volumes"] == [f"./mesh-tls/{name}:/etc/tenantmesh/mesh:ro"]
    auth_env = environment(services["auth"])
    auth = load_auth_settings(tmp_path, auth_env)
    assert auth.key_encryption_key == base64.b64decode(values["TENANTMESH_KEY_ENCRYPTION_KEY"])
    assert auth.admin_password == values["TENANTMESH_ADMIN_PASSWORD"]
    assert not (tmp_path / "secrets").exists()  # nothing generated: every secret is configured
    # Only auth gets auth's secrets.
    for name, service in services.items():
        if name != "auth":
            assert not {"TENANTMESH_KEY_ENCRYPTION_KEY", "TENANTMESH_ADMIN_PASSWORD"} & set(service["environment"])
    edge_env = environment(services["envoy"])
    edge = load_edge_settings(edge_env)
    assert edge.bind_address == "0.0.0.0"
    assert str(edge.tls_cert_file).startswith("/etc/tenantmesh/tls/")
    for name in SERVICES:
        assert load_settings(edge_env).address_of(name) == load_settings(environment(services[name])).address_of(name)
    # tenantctl (migrate, keys rotate) reaches both services and authenticates with the service key.
    tenantctl = environment(services["tenantctl"])
    assert services["tenantctl"]["entrypoint"] == ["tenantctl"]
    assert tenantctl["TENANTMESH_API_KEY"] == values["TENANTMESH_SERVICE_API_KEY"]
    assert tenantctl["TENANTMESH_AUTH_ADDR"] == auth_env["TENANTMESH_AUTH_ADDR"]
    # The edge and tenantctl each mount their own mesh certificate.
    for name, identity in (("envoy", "edge"), ("tenantctl", "tenantctl")):
        assert_mesh_tls_files(load_settings(environment(services[name])).mesh_tls)
        assert f"./mesh-tls/{identity}:/etc/tenantmesh/mesh:ro" in services[name]["volumes"]


def assert_mesh_tls_files(tls: MeshTls | None) -> None:
    """Production mesh TLS: one certificate per process, from the mounted directory."""
    assert tls is not None
    assert tls.shared is not None
    assert tls.ca_file == Path("/etc/tenantmesh/mesh/ca.crt")
    assert tls.shared.cert == Path("/etc/tenantmesh/mesh/tls.crt")
    assert tls.shared.key == Path("/etc/tenantmesh/mesh/tls.key")


def test_compose_edge_routes_every_service() -> None:
    envoy = tenantmesh_services(compose())["envoy"]
    [option, value] = envoy["command"]
    assert option == "--services"
    # Every service with a public API; the rate limit service is asked by the edge, not routed to.
    assert render.parse_services(value) == ROUTED == render.default_services(PLATFORM)
    assert set(SERVICES) <= set(envoy["depends_on"])


def test_compose_interpolations_are_in_env_example() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    example = env_example()
    for name, op, _ in INTERPOLATION.findall(text):
        if op.endswith("?"):
            assert name in example, f"{name} is required by compose.yaml but missing from .env.example"


def test_env_example_secrets_are_empty_and_required() -> None:
    # No example value can reach a deployment: compose refuses to start until each is set.
    example = env_example()
    secret_names = {key for key in example if SECRET_NAME.search(key)}
    assert {"TENANTMESH_KEY_ENCRYPTION_KEY", "TENANTMESH_SERVICE_API_KEY", "TENANTMESH_ADMIN_PASSWORD"} <= secret_names
    for key in secret_names:
        assert example[key] == "", f"{key} must be empty in .env.example"
        with pytest.raises(AssertionError, match=key):
            compose({**operator_env(), key: ""})
    # ... and each comes with instructions to generate it.
    text = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    assert "base64.b64encode(os.urandom(32))" in text


def test_k8s_config_and_secret_keys_are_read_by_the_code() -> None:
    for source, keys in (("ConfigMap", configmap()), *secret_templates().items()):
        unknown = set(keys) - KNOWN
        assert not unknown, f"{source}: {sorted(unknown)} are read by no settings loader"
    for workload in workloads():
        for container in containers(workload):
            names = {item["name"] for item in container.get("env", [])}
            assert names <= KNOWN, f"{workload['kind']} {container['name']}: {sorted(names - KNOWN)}"


def test_k8s_config_loads_and_matches_the_probes(tmp_path: Path) -> None:
    config = configmap()
    edge = load_edge_settings(config)
    assert edge.bind_address == "0.0.0.0"
    for name in SERVICES:
        [container] = containers(workload(name))
        assert container["args"] == ["services.mesh", "serve", name]
        env = container_env(container, config)
        settings = load_settings(env)
        assert settings.database.tenant_servers.keys() >= {"db1", "db2"}
        assert settings.service_api_key
        port = settings.port_of(name)
        assert port == PORTS[name]
        assert container["ports"][0]["containerPort"] == port
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            # Over mesh TLS with the pod's own certificate (the kubelet's gRPC probe is plaintext).
            command = container[probe]["exec"]["command"]
            assert command == ["tenantmesh-healthcheck", "grpc", f"127.0.0.1:{port}", "--mesh-name", name]
        assert_mesh_tls_files(settings.mesh_tls)
        assert mesh_secret_of(workload(name)) == f"tenantmesh-mesh-{name}"
        [service] = [d for d in k8s_documents(f"{name}.yaml") if d["kind"] == "Service"]
        assert service["metadata"]["name"] == name
        assert service["spec"]["clusterIP"] == "None"  # headless: Envoy balances over every pod
        assert service["spec"]["ports"][0]["port"] == port
        assert settings.address_of(name) == f"{name}.tenantmesh.svc.cluster.local:{port}"
        # Only auth gets auth's secrets.
        has_auth_secrets = "TENANTMESH_KEY_ENCRYPTION_KEY" in env
        assert has_auth_secrets == (name == "auth"), name


def test_k8s_auth_secrets_load_and_the_template_placeholder_is_rejected(tmp_path: Path) -> None:
    [container] = containers(workload("auth"))
    env = container_env(container, configmap())
    # The template's placeholder key encryption key stops auth at start instead of being used.
    with pytest.raises(ConfigError, match="TENANTMESH_KEY_ENCRYPTION_KEY"):
        load_auth_settings(tmp_path, env)
    kek = base64.b64encode(os.urandom(32)).decode()
    auth = load_auth_settings(tmp_path, {**env, "TENANTMESH_KEY_ENCRYPTION_KEY": kek})
    assert auth.admin_email == configmap()["TENANTMESH_ADMIN_EMAIL"]
    assert auth.admin_password
    assert not (tmp_path / "secrets").exists()


def test_k8s_edge_routes_every_service() -> None:
    [container] = containers(workload("envoy"))
    [option, value] = container["args"]
    assert option == "--services"
    # Every service with a public API; the rate limit service is asked by the edge, not routed to.
    assert render.parse_services(value) == ROUTED == render.default_services(PLATFORM)


def test_k8s_migrate_job_authenticates_with_the_service_key() -> None:
    [container] = containers(workload("tenantmesh-migrate-"))
    assert container["command"] == ["tenantctl"]
    assert container["args"][0] == "migrate"
    env = container_env(container, configmap())
    assert env["TENANTMESH_API_KEY"] == secret_template()["TENANTMESH_SERVICE_API_KEY"]
    assert {"TENANTMESH_TENANTS_ADDR", "TENANTMESH_AUTH_ADDR"} <= env.keys()
    assert "DATABASE_URL" not in env  # the Job talks to the services, not the database


def mesh_secret_of(item: dict[str, Any]) -> str:
    [mount] = [
        m for c in containers(item) for m in c.get("volumeMounts", []) if m["mountPath"] == "/etc/tenantmesh/mesh"
    ]
    assert mount.get("readOnly") is True
    assert "subPath" not in mount  # the whole Secret: the kubelet swaps re-issued files in
    [volume] = [v for v in item["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
    name: str = volume["secret"]["secretName"]
    return name


def mesh_certificates() -> dict[str, dict[str, Any]]:
    """cert-manager Certificates of mesh-tls.yaml by the Secret they fill."""
    return {d["spec"]["secretName"]: d for d in k8s_documents("mesh-tls.yaml") if d["kind"] == "Certificate"}


def test_k8s_mesh_certificates_name_every_identity_and_every_pod_mounts_its_own() -> None:
    certificates = mesh_certificates()
    for identity in (*SERVICES, EDGE, TENANTCTL):
        spec = certificates[f"tenantmesh-mesh-{identity}"]["spec"]
        assert spec["uris"] == [spiffe_id(DEFAULT_TRUST_DOMAIN, identity)]
        assert spec["dnsNames"] == [identity]
        assert {"server auth", "client auth"} <= set(spec["usages"])
        assert spec["issuerRef"]["name"] == "tenantmesh-mesh"
    assert mesh_secret_of(workload("envoy")) == "tenantmesh-mesh-edge"
    assert mesh_secret_of(workload("tenantmesh-migrate-")) == "tenantmesh-mesh-tenantctl"
    assert_mesh_tls_files(load_settings(configmap()).mesh_tls)


def test_k8s_network_policies_let_only_the_edge_in_and_the_services_reach_each_other() -> None:
    policies = {d["metadata"]["name"]: d["spec"] for d in k8s_documents("network-policies.yaml")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    # Only the edge takes traffic from anywhere.
    open_to_all = [name for name, spec in policies.items() for rule in spec.get("ingress", []) if "from" not in rule]
    assert open_to_all == ["edge"]
    # Beyond the services' own ports, only metrics scraping comes in (and traces go out).
    scraped = {p["port"] for rule in policies["observability"]["ingress"] for p in rule["ports"]}
    assert scraped == {9464, 9902}
    for name in SERVICES:
        spec = policies[name]
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == name
        [ingress] = spec["ingress"]
        assert ingress["ports"] == [{"port": PORTS[name], "protocol": "TCP"}]
        sources = [peer["podSelector"]["matchLabels"] for peer in ingress["from"]]
        assert sources == [
            {"app.kubernetes.io/component": "edge"},
            {"app.kubernetes.io/component": "service"},
            {"app.kubernetes.io/name": "tenantmesh-migrate"},
        ]
        egress_ports = {p["port"] for rule in spec["egress"] for p in rule["ports"]}
        assert egress_ports == {*(PORTS[s] for s in SERVICES), 3306, 6379}
    edge_egress = {p["port"] for rule in policies["edge"]["egress"] for p in rule["ports"]}
    assert edge_egress == {PORTS[s] for s in SERVICES}


def test_k8s_references_exist() -> None:
    configmaps = {d["metadata"]["name"] for d in k8s_documents("configmap.yaml")}
    # Secrets the operator creates (secret.template.yaml) and those cert-manager keeps (mesh-tls.yaml).
    secret_names = {d["metadata"]["name"] for d in k8s_documents("secret.template.yaml")} | set(mesh_certificates())
    templates = secret_templates()
    for item in workloads():
        spec = item["spec"]["template"]["spec"]
        for container in containers(item):
            assert container["image"].split(":")[0] == "tenantmesh"
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secret_names
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref is not None:
                    assert ref["key"] in templates[ref["name"]], ref
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secret_names
        assert spec["securityContext"]["runAsNonRoot"] is True


def test_kustomization_deploys_every_service() -> None:
    resources = load_all(K8S / "kustomization.yaml")[0]["resources"]
    assert set(service_manifests()) <= set(resources)


def test_every_deployment_has_a_pdb_and_an_hpa() -> None:
    docs = list(k8s_documents(*service_manifests(), "envoy.yaml"))
    deployments = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    assert deployments == {*SERVICES, "envoy"}
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
    # Deployments run no static server: Envoy answers /openapi.json and /docs from rendered files.
    assert "--static-dir" in text


# --------------------------------------------------------------------------- generated from the manifest


def test_generated_deploy_files_are_current() -> None:
    stale = [str(path.relative_to(REPO)) for path in deploy.stale_files(PLATFORM)]
    assert not stale, f"{stale} differ from services/manifest.py: run python -m services.mesh.deploy"


def test_the_manifest_keeps_every_service_name_and_port() -> None:
    assert PORTS == {
        "tenants": 50051,
        "auth": 50052,
        "registry": 50053,
        "forms": 50054,
        "menus": 50055,
        "webhooks": 50058,
        "ratelimit": 50059,
    }


def test_a_new_service_is_one_line(tmp_path: Path) -> None:
    # What forms will be: one line in the manifest brings its container, its Kubernetes
    # manifests, its address everywhere, the edge's route and its place in provisioning.
    built = replace(
        PLATFORM.get("forms"), app="services.forms.app:FormsApp", api=("tenantmesh.forms.v1",), tenant_scoped=True
    )
    manifest = Manifest(tuple(built if spec.name == "forms" else spec for spec in PLATFORM))
    files = {path.relative_to(DEPLOY).as_posix(): text for path, text in deploy.render_files(manifest).items()}
    assert "k8s/forms.yaml" in files
    assert "- forms.yaml" in files["k8s/kustomization.yaml"]
    rendered = yaml.safe_load(interpolate(files["compose.yaml"], operator_env()))
    assert rendered["services"]["forms"]["command"] == ["services.mesh", "serve", "forms"]
    assert rendered["services"]["envoy"]["command"] == ["--services", "tenants,auth,registry,forms,menus,webhooks"]
    assert "TENANTMESH_LIFECYCLE_SERVICES: tenants,forms,menus" in files["k8s/configmap.yaml"]
    assert "| `forms` | 50054 | yes | `tenantmesh.forms.v1` |" in files["README.md"]


def test_the_shipped_collector_redacts_edge_spans_before_anything_else() -> None:
    """The edge's spans carry the URL with its query and caller-written headers: the collector's
    first processor drops queries and bounds every attribute (docs/observability.md)."""
    config = yaml.safe_load((DEPLOY / "observability" / "otel-collector.yaml").read_text())
    assert config["service"]["pipelines"]["traces"]["processors"][0] == "transform/redact"
    [statements] = config["processors"]["transform/redact"]["trace_statements"]
    assert statements["context"] == "span"
    [strip_query, bound] = statements["statements"]
    assert bound == "truncate_all(attributes, 256)"
    found = re.fullmatch(r'replace_pattern\(attributes\["http\.url"\], "(.*)", ""\)', strip_query)
    assert found is not None
    pattern = found.group(1).encode().decode("unicode_escape")  # the YAML string's OTTL escapes
    url = "https://edge.example/v1/submissions?filter=answers.email+%3D+%22ada%40example.test%22"
    assert re.sub(pattern, "", url) == "https://edge.example/v1/submissions"
