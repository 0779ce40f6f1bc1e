// Compiled with tsc --strict against the installed tarball's declarations (never run): the
// types an integrator's editor shows come from the OpenAPI document.
import { TenantmeshClient, TenantmeshError, type Schema } from "@tenantmesh/sdk";

export async function usage(client: TenantmeshClient): Promise<string> {
  const created = await client.call("TenantService_CreateTenant", { body: { slug: "acme", displayName: "Acme" } });
  const tenant: Schema<"tenantmesh.tenants.v1.Tenant"> | undefined = created.tenant;
  const state: "TENANT_STATE_ACTIVE" | string | undefined = tenant?.state;
  for await (const user of client.forTenant(tenant?.tenantId ?? "").paginate("UserService_ListUsers")) {
    const email: string | undefined = user.email;
    void email;
  }
  // @ts-expect-error: the path parameter of GetTenant is tenantId
  await client.call("TenantService_GetTenant", { path: { tenant: "x" } });
  try {
    await client.call("TenantService_GetTenant", { path: { tenantId: "x" } });
  } catch (error) {
    if (error instanceof TenantmeshError) {
      return `${error.reason} ${error.fieldViolations.length}`;
    }
  }
  return state ?? "";
}
