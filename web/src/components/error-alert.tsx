"use client";
import { TenantmeshError } from "@tenantmesh/sdk";
import { useT } from "@/lib/i18n";
import { Alert } from "./ui/card";

/** A failed call as a person reads it: the server's message and each invalid field. */
export function ErrorAlert({ error }: { error: unknown }) {
  const t = useT();
  if (!error) {
    return null;
  }
  const message = error instanceof TenantmeshError ? error.message.replace(/^[A-Z_]+( [A-Z_]+)?: /, "") : String(error);
  return (
    <Alert data-testid="error">
      {t("app.error", { message })}
      {error instanceof TenantmeshError && error.fieldViolations.length > 0 ? (
        <ul className="mt-1 list-disc pl-5">
          {error.fieldViolations.map((violation) => (
            <li key={violation.field + violation.description}>
              {violation.field}: {violation.description}
            </li>
          ))}
        </ul>
      ) : null}
    </Alert>
  );
}

/** The invalid-field message the server gave for ``field``, if any. */
export function fieldError(error: unknown, field: string): string | undefined {
  if (!(error instanceof TenantmeshError)) {
    return undefined;
  }
  return error.fieldViolations.find((v) => v.field === field || v.field.endsWith(`.${field}`))?.description;
}
