"use client";
import { useT } from "@/lib/i18n";
import { useMe } from "@/lib/me";
import { groupPermissions } from "@/lib/navigation";

/** The permissions a role can carry, grouped by the service that declares them. It offers what
 * the signed-in admin holds: nobody grants more than they have (the server refuses it too); a
 * role being edited shows its own permissions as well, so none is dropped unseen. */
export function PermissionPicker({ value, onChange }: { value: string[]; onChange: (permissions: string[]) => void }) {
  const t = useT();
  const me = useMe();
  const groups = groupPermissions([...(me.data?.permissions ?? []), ...value]);
  return (
    <div className="flex flex-col gap-3">
      <p className="text-sm font-medium">{t("roles.pickPermissions")}</p>
      {groups.map(([service, permissions]) => (
        <fieldset key={service} className="rounded border border-slate-300 p-2">
          <legend className="px-1 text-sm font-semibold">{service}</legend>
          <div className="grid gap-1 sm:grid-cols-2">
            {permissions.map((permission) => (
              <label key={permission} className="flex items-center gap-2 text-sm">
                <input
                  type="checkbox"
                  checked={value.includes(permission)}
                  onChange={(event) =>
                    onChange(event.target.checked ? [...value, permission] : value.filter((p) => p !== permission))
                  }
                />
                {permission}
              </label>
            ))}
          </div>
        </fieldset>
      ))}
    </div>
  );
}
