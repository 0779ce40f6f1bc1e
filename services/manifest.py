"""The platform's services: one line each (services/runtime/manifest.py says what a line holds).

Order is start order: the tenants service creates the platform tenant, auth
then bootstraps its administrator and service account, and the rest need both.
A new service is its protos, its folder under services/ and a line here; the
deploy files follow with ``python -m services.mesh.deploy`` (docs/adding-a-service.md).
"""

from __future__ import annotations

from services.runtime.manifest import Deployment, Manifest, ServiceSpec


def _required(name: str) -> tuple[str, str]:
    """A secret compose refuses to start without (deploy/.env)."""
    return name, f"${{{name}:?set {name} in deploy/.env}}"


def _defaulted(name: str, default: str) -> tuple[str, str]:
    return name, f"${{{name}:-{default}}}"


PLATFORM = Manifest(
    (
        ServiceSpec(
            "tenants",
            50051,
            "services.tenants.app:TenantsApp",
            api=("tenantmesh.tenants.v1",),
            tenant_scoped=True,
            deploy=Deployment(
                summary="Tenant lifecycle: provisioning, suspension, deletion, migrations of every tenant database. "
                "Its reconciler runs in every replica; a replica only works on a tenant after winning a "
                "conditional UPDATE (a lease) on the tenant's row.",
            ),
        ),
        ServiceSpec(
            "auth",
            50052,
            "services.auth.app:AuthApp",
            api=("tenantmesh.auth.v1",),
            deploy=Deployment(
                summary="Tokens: login, API key exchange, signing keys (JWKS), users, roles, service accounts. "
                "Every replica must get the same TENANTMESH_KEY_ENCRYPTION_KEY.",
                memory_limit="1Gi",
                resources_note="Password hashes (argon2id, 19 MiB each) run on worker threads, one per usable CPU: "
                "hence 1Gi, not 512Mi.",
                secrets=("tenantmesh-auth-secrets",),
                compose_environment=(
                    _required("TENANTMESH_KEY_ENCRYPTION_KEY"),
                    _defaulted("TENANTMESH_ADMIN_EMAIL", "admin@tenantmesh.local"),
                    _required("TENANTMESH_ADMIN_PASSWORD"),
                    _defaulted("TENANTMESH_ACCESS_TOKEN_TTL_SECONDS", "900"),
                    _defaulted("TENANTMESH_REFRESH_TOKEN_TTL_SECONDS", "2592000"),
                    _defaulted("TENANTMESH_API_TOKEN_TTL_SECONDS", "600"),
                    _defaulted("TENANTMESH_LOGIN_MAX_FAILURES", "5"),
                    _defaulted("TENANTMESH_LOGIN_LOCK_SECONDS", "30"),
                    _defaulted("TENANTMESH_LOGIN_MAX_LOCK_SECONDS", "900"),
                    _defaulted("TENANTMESH_LOGIN_ADDRESS_MAX_FAILURES", "50"),
                ),
            ),
        ),
        ServiceSpec(
            "registry",
            50053,
            "services.registry.app:RegistryApp",
            api=("tenantmesh.registry.v1",),
            deploy=Deployment(
                summary="Service catalogue, instances and their health checks, discovery (Resolve, Watch), tenants' "
                "enabled services. Health checks run in one replica at a time (a lease in the core database).",
                cpu_request="100m",
                memory_request="128Mi",
                max_replicas=4,
                compose_environment=(
                    _defaulted("TENANTMESH_REGISTRY_HEALTH_INTERVAL_SECONDS", "10"),
                    _defaulted("TENANTMESH_REGISTRY_HEALTH_TIMEOUT_SECONDS", "2"),
                ),
            ),
        ),
        ServiceSpec(
            "forms",
            50054,
            "services.forms.app:FormsApp",
            api=("tenantmesh.forms.v1",),
            tenant_scoped=True,
            deploy=Deployment(
                summary="Forms: versioned definitions, submissions validated by the same rules the browser runs, "
                "stored in each tenant's database; exports stream. Uploaded files go to the blob store: with more "
                "than one replica set TENANTMESH_BLOB_STORE=s3 (deploy/README.md, Tenants' files); expired uploads "
                "are swept by one replica at a time.",
                compose_environment=(
                    _defaulted("TENANTMESH_BLOB_STORE", "local"),
                    _defaulted("TENANTMESH_S3_BUCKET", ""),
                    _defaulted("TENANTMESH_S3_ENDPOINT_URL", ""),
                    _defaulted("TENANTMESH_S3_ACCESS_KEY_ID", ""),
                    _defaulted("TENANTMESH_S3_SECRET_ACCESS_KEY", ""),
                    _defaulted("TENANTMESH_FILES_MAX_MIB", "25"),
                    _defaulted("TENANTMESH_FILES_UPLOAD_TTL_SECONDS", "86400"),
                ),
            ),
        ),
        ServiceSpec(
            "menus",
            50055,
            "services.menus.app:MenusApp",
            api=("tenantmesh.menus.v1",),
            tenant_scoped=True,
            deploy=Deployment(
                summary="Each user's menu: the platform's entries, the enabled services' and the published forms', "
                "shaped by the tenant's overrides and filtered by the caller's permissions; computed menus are "
                "cached per permission set and dropped by events.",
                cpu_request="100m",
                memory_request="128Mi",
            ),
        ),
        ServiceSpec(
            "webhooks",
            50058,
            "services.webhooks.app:WebhooksApp",
            api=("tenantmesh.webhooks.v1",),
            deploy=Deployment(
                summary="Tenants' webhooks: fans their events out to subscribed HTTPS endpoints and sends them, "
                "signed, through the delivery queue (retries with backoff, a delivery log with replay). Every "
                "replica sends; each event is fanned out by one replica.",
                cpu_request="100m",
                memory_request="128Mi",
                compose_environment=(
                    _defaulted("TENANTMESH_WEBHOOKS_ALLOWED_NETWORKS", ""),
                    _defaulted("TENANTMESH_WEBHOOKS_TIMEOUT_SECONDS", "10"),
                ),
            ),
        ),
        ServiceSpec(
            "ratelimit",
            50059,
            "services.ratelimit.app:RateLimitApp",
            needs_redis=True,
            deploy=Deployment(
                summary="The edge's global per-tenant rate limit: Envoy's rate limit service API, counted in Redis "
                "(one fixed window per limit), so every edge replica draws from one quota per tenant. Limits "
                "come from the tenant's plan (TENANTMESH_RATE_LIMIT_PLANS) and its rate_limit.* settings.",
                cpu_request="100m",
                memory_request="128Mi",
                compose_environment=(
                    _defaulted("TENANTMESH_RATE_LIMIT_PLANS", ""),
                    _defaulted("TENANTMESH_RATE_LIMIT_FAIL_CLOSED", ""),
                ),
            ),
        ),
    )
)
