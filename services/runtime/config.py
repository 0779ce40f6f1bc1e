"""Typed configuration, read once from the environment.

Every setting has a default that works for the embedded single-machine setup
(`make run`); production overrides them through environment variables. A bad
value stops the process at startup with the variable's name in the message,
instead of failing later in some request.
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import secrets
import tempfile
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from services.runtime.db.placement import DEFAULT_TENANT_DB_PREFIX, check_tenant_db_prefix
from services.runtime.manifest import Manifest
from services.runtime.mesh_tls import DEFAULT_TRUST_DOMAIN, CertificateFiles, MeshTls
from services.runtime.mesh_tls.identity import check_trust_domain

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration variable has a value the platform cannot use."""


@dataclass(frozen=True)
class DatabaseSettings:
    # SQLAlchemy async URL of the core (shared metadata) database.
    url: str
    # Named database servers tenant databases may be placed on (name -> server URL).
    tenant_servers: Mapping[str, str]
    # Server of the platform tenant (and of every tenant while the others weigh 0).
    default_tenant_server: str
    # Share of new tenants each server takes (name -> weight; 0: none, e.g. while draining):
    # a new tenant goes where live tenants per unit of weight are fewest.
    tenant_server_weights: Mapping[str, int]
    # Read replica of a tenant server (name -> replica URL), for read_only RPCs.
    tenant_replicas: Mapping[str, str]
    # How long a caller who wrote to a tenant database reads it from the primary.
    replica_pin_seconds: float
    pool_size: int
    max_overflow: int
    sqlite_engine_cache_size: int
    # Every tenant database name starts with it; fixed for the life of a platform.
    tenant_db_prefix: str

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database: DatabaseSettings
    redis_url: str | None
    # Address every gRPC service of this process listens on.
    bind_host: str
    # Where each platform service can be reached (name -> host:port).
    service_addresses: Mapping[str, str]
    # Tenant-scoped services the tenants service provisions tenants in, in order.
    lifecycle_services: tuple[str, ...]
    log_level: str
    log_format: str
    shutdown_grace_seconds: float
    tenant_cache_ttl_seconds: float
    reconcile_interval_seconds: float
    provisioning_lease_seconds: float
    version: str
    # API key of the platform's own service account, exchanged for the access
    # token services use for internal calls (lifecycle, tenant lookups). In the
    # embedded default it is generated into the data directory on first start.
    service_api_key: str | None
    # The variables these settings were read from; services read their own
    # settings from the same source (tests pass a mapping, not os.environ).
    environment: Mapping[str, str]
    # The platform's services (services/manifest.py; a test may add its own).
    manifest: Manifest
    # The edge's public base URL (no trailing slash): links in mails start with it.
    public_url: str
    # Certificates of the mesh's mutual TLS; None only with TENANTMESH_MESH_TLS=off (no identities).
    mesh_tls: MeshTls | None = None

    def address_of(self, service: str) -> str:
        try:
            return self.service_addresses[service]
        except KeyError:
            raise ConfigError(f"no address configured for service {service!r}") from None

    def port_of(self, service: str) -> int:
        return int(self.address_of(service).rsplit(":", 1)[1])


class EnvReader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def raw(self, name: str) -> str | None:
        value = self._env.get(name)
        return value.strip() if value is not None and value.strip() != "" else None

    def get(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse(value)
        except (ValueError, TypeError) as exc:
            if may_hold_credentials(name):
                raise ConfigError(
                    f"{name} is not valid (its value is not shown: it may hold credentials): {exc}"
                ) from None
            raise ConfigError(f"{name}={value!r} is not valid: {exc}") from None

    def positive(self, name: str, default: float) -> float:
        value = self.get(name, default, float)
        # float() accepts "nan" and "inf"; neither is a usable duration.
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{name} must be a positive number, got {value}")
        return value

    def count(self, name: str, default: int, minimum: int = 1) -> int:
        value = self.get(name, default, int)
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        return value


# Settings whose values may hold credentials (a database URL's user:password, an exporter's API
# key header): a bad one is named in the error, and its value is not repeated there (errors are
# printed and logged). Their parsers say where the fault is, never what the text was.
_CREDENTIAL_SUFFIXES = ("_URL", "_SERVERS", "_REPLICAS", "_HEADERS", "_KEY", "_SECRET", "_PASSWORD", "_TOKEN")


def may_hold_credentials(name: str) -> bool:
    return name.upper().endswith(_CREDENTIAL_SUFFIXES)


def _parse_pairs(value: str) -> dict[str, str]:
    """Parses ``name=value,name2=value2`` (values may contain '=')."""
    pairs: dict[str, str] = {}
    for position, item in enumerate(value.split(","), start=1):
        if not item.strip():
            continue
        name, sep, rest = item.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise ValueError(f"entry {position} is not name=value")
        pairs[name.strip()] = rest.strip()
    return pairs


def _server_weights(servers: Mapping[str, str], given: Mapping[str, str]) -> dict[str, int]:
    """Every configured server's weight (1 unless given); at least one must take tenants."""
    unknown = sorted(set(given) - set(servers))
    if unknown:
        raise ConfigError(f"TENANTMESH_TENANT_DB_WEIGHTS names unknown servers {unknown}")
    weights: dict[str, int] = {}
    for name in servers:
        value = given.get(name, "1")
        if not value.isdigit():
            raise ConfigError(f"TENANTMESH_TENANT_DB_WEIGHTS: weight of {name!r} must be a whole number >= 0")
        weights[name] = int(value)
    if not any(weights.values()):
        raise ConfigError("TENANTMESH_TENANT_DB_WEIGHTS: at least one server must have a weight above 0")
    return weights


def _parse_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected host:port")
    return value


def _service_names(manifest: Manifest) -> Callable[[str], tuple[str, ...]]:
    def parse(value: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in value.split(",") if n.strip())
        unknown = [n for n in names if n not in manifest.names]
        if unknown:
            raise ValueError(f"unknown services {unknown}; known: {list(manifest.names)}")
        return names

    return parse


def platform_manifest() -> Manifest:
    """The platform's own services (services/manifest.py), for callers that do not bring a manifest."""
    # Imported here: the manifest names the services' apps, and the runtime imports no service.
    from services.manifest import PLATFORM  # noqa: PLC0415

    return PLATFORM


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.lower() not in allowed:
            raise ValueError(f"expected one of {allowed}")
        return value.lower()

    return parse


def load_settings(env: Mapping[str, str] | None = None, *, manifest: Manifest | None = None) -> Settings:
    """Reads every setting from ``env`` (default: the process environment) for the services of
    ``manifest`` (default: the platform's)."""
    manifest = manifest or platform_manifest()
    source = dict(os.environ if env is None else env)
    read = EnvReader(source)
    data_dir = Path(read.get("TENANTMESH_DATA_DIR", ".data", str)).resolve()
    database_url = read.get("DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / 'core.db'}", str)
    if not database_url.startswith(("sqlite+aiosqlite://", "mysql+asyncmy://")):
        raise ConfigError("DATABASE_URL must be a sqlite+aiosqlite:// or mysql+asyncmy:// URL")
    no_servers: dict[str, str] = {}
    tenant_servers = read.get("TENANTMESH_TENANT_DB_SERVERS", no_servers, _parse_pairs) or {"default": database_url}
    default_server = read.get("TENANTMESH_DEFAULT_TENANT_DB_SERVER", next(iter(tenant_servers)), str)
    if default_server not in tenant_servers:
        raise ConfigError(f"TENANTMESH_DEFAULT_TENANT_DB_SERVER={default_server!r} is not a configured server")
    weights = read.get("TENANTMESH_TENANT_DB_WEIGHTS", no_servers, _parse_pairs)
    server_weights = _server_weights(tenant_servers, weights)
    replicas = read.get("TENANTMESH_TENANT_DB_REPLICAS", no_servers, _parse_pairs)
    unknown_replicas = sorted(set(replicas) - set(tenant_servers))
    if unknown_replicas:
        raise ConfigError(f"TENANTMESH_TENANT_DB_REPLICAS names unknown servers {unknown_replicas}")
    if replicas and database_url.startswith("sqlite"):
        raise ConfigError("TENANTMESH_TENANT_DB_REPLICAS needs MySQL/MariaDB tenant servers")

    bind_host = read.get("TENANTMESH_BIND_HOST", "127.0.0.1", str)
    addresses = {
        spec.name: read.get(spec.address_variable, f"{bind_host}:{spec.port}", _parse_address) for spec in manifest
    }
    return Settings(
        data_dir=data_dir,
        database=DatabaseSettings(
            url=database_url,
            tenant_servers=tenant_servers,
            default_tenant_server=default_server,
            tenant_server_weights=server_weights,
            tenant_replicas=replicas,
            replica_pin_seconds=read.positive("TENANTMESH_REPLICA_PIN_SECONDS", 5.0),
            pool_size=read.count("TENANTMESH_DB_POOL_SIZE", 10),
            max_overflow=read.count("TENANTMESH_DB_MAX_OVERFLOW", 5, minimum=0),
            sqlite_engine_cache_size=read.count("TENANTMESH_SQLITE_ENGINE_CACHE_SIZE", 64),
            tenant_db_prefix=read.get("TENANTMESH_TENANT_DB_PREFIX", DEFAULT_TENANT_DB_PREFIX, check_tenant_db_prefix),
        ),
        redis_url=read.raw("REDIS_URL"),
        bind_host=bind_host,
        service_addresses=addresses,
        lifecycle_services=read.get("TENANTMESH_LIFECYCLE_SERVICES", manifest.tenant_scoped, _service_names(manifest)),
        log_level=read.get("TENANTMESH_LOG_LEVEL", "info", _choice("debug", "info", "warning", "error")),
        log_format=read.get("TENANTMESH_LOG_FORMAT", "json", _choice("json", "text")),
        shutdown_grace_seconds=read.positive("TENANTMESH_SHUTDOWN_GRACE_SECONDS", 5.0),
        tenant_cache_ttl_seconds=read.positive("TENANTMESH_TENANT_CACHE_TTL_SECONDS", 30.0),
        reconcile_interval_seconds=read.positive("TENANTMESH_RECONCILE_INTERVAL_SECONDS", 30.0),
        provisioning_lease_seconds=read.positive("TENANTMESH_PROVISIONING_LEASE_SECONDS", 60.0),
        version=read.get("TENANTMESH_VERSION", "0.1.0", str),
        environment=source,
        manifest=manifest,
        service_api_key=read.raw("TENANTMESH_SERVICE_API_KEY")
        or _read_secret_file(data_dir / "secrets" / "service-api-key"),
        public_url=read.get("TENANTMESH_PUBLIC_URL", f"https://localhost:{_edge_https_port(read)}", parse_public_url),
        mesh_tls=load_mesh_tls(read, data_dir),
    )


MESH_TLS_FILE_VARIABLES = (
    "TENANTMESH_MESH_TLS_CA_FILE",
    "TENANTMESH_MESH_TLS_CERT_FILE",
    "TENANTMESH_MESH_TLS_KEY_FILE",
)


def dev_mesh_tls_dir(data_dir: Path) -> Path:
    """Where the embedded mesh keeps its development CA (shared with the edge) and service certificates."""
    return data_dir / "tls"


def load_mesh_tls(read: EnvReader, data_dir: Path) -> MeshTls | None:
    """``TENANTMESH_MESH_TLS``: ``files`` (production: the three TENANTMESH_MESH_TLS_*_FILE variables,
    implied when they are set), ``dev`` (the default: development certificates under the data
    directory, made by ``make run``) or ``off`` (plaintext and no identities, for tests and
    benchmarks on one machine only)."""
    given = {name: read.raw(name) for name in MESH_TLS_FILE_VARIABLES}
    mode = read.get("TENANTMESH_MESH_TLS", "files" if any(given.values()) else "dev", _choice("files", "dev", "off"))
    trust_domain = read.get("TENANTMESH_MESH_TRUST_DOMAIN", DEFAULT_TRUST_DOMAIN, check_trust_domain)
    if mode == "off":
        return None
    if mode == "files":
        missing = [name for name, value in given.items() if value is None]
        if missing:
            raise ConfigError(f"TENANTMESH_MESH_TLS=files needs {', '.join(missing)}")
        ca, cert, key = (Path(str(given[name])) for name in MESH_TLS_FILE_VARIABLES)
        return MeshTls(trust_domain, ca, shared=CertificateFiles(cert, key))
    tls_dir = dev_mesh_tls_dir(data_dir)
    directory = read.get("TENANTMESH_MESH_TLS_DIR", tls_dir / "mesh", Path)
    return MeshTls(trust_domain, tls_dir / "ca.pem", directory=directory)


def _edge_https_port(read: EnvReader) -> int:
    port = read.get("TENANTMESH_EDGE_HTTPS_PORT", 8443, int)
    if not 0 < port < 65536:
        raise ConfigError(f"TENANTMESH_EDGE_HTTPS_PORT must be a port number, got {port}")
    return port


_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` names this machine (a development platform's address)."""
    return urllib.parse.urlsplit(url).hostname in _LOOPBACK_HOSTS


def parse_public_url(value: str) -> str:
    """An absolute https URL (http only on loopback), without query, fragment or trailing slash."""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("expected an absolute https:// URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ValueError("must be https:// (http:// only for a loopback host)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("must not carry credentials, a query or a fragment")
    _ = parts.port  # raises ValueError on a bad port
    return value.rstrip("/")


KEY_ENCRYPTION_KEY_VARIABLE = "TENANTMESH_KEY_ENCRYPTION_KEY"


def parse_key_encryption_key(text: str) -> bytes:
    """The key-encryption key from its base64 text; ConfigError naming the variable otherwise."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise ConfigError(f"{KEY_ENCRYPTION_KEY_VARIABLE} must be base64") from None
    if len(key) != 32:
        raise ConfigError(f"{KEY_ENCRYPTION_KEY_VARIABLE} must decode to 32 bytes")
    return key


def key_encryption_key_file(data_dir: Path) -> Path:
    return data_dir / "secrets" / "key-encryption-key"


def load_key_encryption_key(env: Mapping[str, str], data_dir: Path) -> bytes:
    """The platform's key-encryption key: ``TENANTMESH_KEY_ENCRYPTION_KEY``, or in the embedded
    default the one generated into the data directory (mode 0600) on first use.

    Read only by processes that seal or open secrets (``Runtime.sealer``, auth's settings), at
    their start: the others are never given it.
    """
    text = EnvReader(env).raw(KEY_ENCRYPTION_KEY_VARIABLE)
    if text is not None:
        return parse_key_encryption_key(text)
    path = key_encryption_key_file(data_dir)
    stored = _read_secret_file(path)
    if stored is not None:
        return parse_key_encryption_key(stored)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Written aside (mkstemp: mode 0600), then linked into place: of two processes starting
    # together on one data directory one key wins, and neither reads a half-written file.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key-encryption-key.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(32)))
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return parse_key_encryption_key(path.read_text())


def _read_secret_file(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
