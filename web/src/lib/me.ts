"use client";
import { useQuery } from "@tanstack/react-query";
import { api } from "./api";
import { tokenTenant, useSession } from "./session";

/** Who is signed in: user, tenant, roles and permissions (GetMe, in the token's own tenant). */
export function useMe() {
  const tokens = useSession((s) => s.tokens);
  const tenantId = tokenTenant(tokens);
  return useQuery({
    queryKey: ["me", tenantId, tokens?.refreshToken],
    queryFn: () => api("AuthService_GetMe", { tenantId }),
    enabled: tokens !== null,
    staleTime: 30_000,
  });
}

/** The tenant the signed-in user works in, as GetCurrentTenant gives it (every member may read
 * it): its display name for the dashboard. */
export function useCurrentTenant(tenantId: string | undefined) {
  return useQuery({
    queryKey: ["current-tenant", tenantId],
    queryFn: () => api("TenantService_GetCurrentTenant", { tenantId }),
    enabled: Boolean(tenantId),
    staleTime: 60_000,
  });
}
