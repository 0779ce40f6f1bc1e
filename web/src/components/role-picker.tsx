"use client";
import { useQuery } from "@tanstack/react-query";
import { useActingTenant } from "@/lib/acting-tenant";
import { api } from "@/lib/api";

/** Checkboxes of the tenant's roles (built-in and custom). */
export function RolePicker({ legend, value, onChange }: { legend: string; value: string[]; onChange: (roles: string[]) => void }) {
  const acting = useActingTenant((s) => s.tenantId);
  const roles = useQuery({ queryKey: ["roles", acting], queryFn: () => api("RoleService_ListRoles") });
  const names = (roles.data?.roles ?? []).map((role) => role.name ?? "").filter((name) => name !== "platform-admin");
  return (
    <fieldset className="flex flex-col gap-1">
      <legend className="text-sm font-medium">{legend}</legend>
      {names.map((name) => (
        <label key={name} className="flex items-center gap-2 text-sm">
          <input
            type="checkbox"
            checked={value.includes(name)}
            onChange={(event) => onChange(event.target.checked ? [...value, name] : value.filter((r) => r !== name))}
          />
          {name}
        </label>
      ))}
    </fieldset>
  );
}
