"use client";
import { TenantmeshError } from "@tenantmesh/sdk";
import { errorDetails } from "@/lib/errors";
import { useErrorText, useT } from "@/lib/i18n";
import { Alert } from "./ui/card";

/** A failed call as a person reads it: the console's sentence for its reason, each invalid field,
 * and, folded away for whoever helps them, what the server said. */
export function ErrorAlert({ error }: { error: unknown }) {
  const t = useT();
  const errorText = useErrorText();
  if (!error) {
    return null;
  }
  return (
    <Alert data-testid="error">
      <p>{errorText(error)}</p>
      {error instanceof TenantmeshError && error.fieldViolations.length > 0 ? (
        <ul className="mt-1 list-disc pl-5">
          {error.fieldViolations.map((violation) => (
            <li key={violation.field + violation.description}>
              {violation.field}: {violation.description}
            </li>
          ))}
        </ul>
      ) : null}
      <details className="mt-1 text-xs">
        <summary className="cursor-pointer">{t("error.details")}</summary>
        <code className="break-all">{errorDetails(error)}</code>
      </details>
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
