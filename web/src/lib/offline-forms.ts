"use client";
// Published forms kept in this browser so they can be filled offline (a published version never
// changes, so a kept copy stays right for its version). Like the offline queue, a copy belongs to
// the session that fetched it ("sub@tid", see sessionOwner) and the tenant it was read in: only
// that person's session reads it back, and signing out deletes the person's copies (every tenant)
// from the device. A tenant's forms are its own business, not the next user's of the browser.

const PREFIX = "tm.form.";


function storageKey(owner: string, tenant: string, formKey: string): string {
  return `${PREFIX}${JSON.stringify([owner, tenant, formKey])}`;
}

/** Keeps ``value`` for ``owner`` (no owner: nothing is kept). */
export function keepForm<T>(owner: string | null, tenant: string, formKey: string, value: T): void {
  if (owner) {
    window.localStorage.setItem(storageKey(owner, tenant, formKey), JSON.stringify(value));
  }
}

/** What ``owner`` kept of this form in this tenant, or null. */
export function keptForm<T>(owner: string | null, tenant: string, formKey: string): T | null {
  if (!owner) {
    return null;
  }
  try {
    return JSON.parse(window.localStorage.getItem(storageKey(owner, tenant, formKey)) ?? "null") as T | null;
  } catch {
    return null;
  }
}

/** The owner a stored name belongs to; null for names that say no owner (kept by older builds). */
function ownerOf(name: string): string | null {
  try {
    const parts = JSON.parse(name.slice(PREFIX.length)) as unknown;
    return Array.isArray(parts) && typeof parts[0] === "string" ? parts[0] : null;
  } catch {
    return null;
  }
}

/** On sign-out: deletes the forms the person behind ``owner`` kept, in every tenant, and any copy
 * no one can be named for. */
export function discardPersonsForms(owner: string | null): void {
  const person = owner ? `${owner.slice(0, owner.lastIndexOf("@"))}@` : null;
  const names = Array.from({ length: window.localStorage.length }, (_, i) => window.localStorage.key(i) ?? "");
  for (const name of names.filter((n) => n.startsWith(PREFIX))) {
    const kept = ownerOf(name);
    if (kept === null || (person !== null && kept.startsWith(person))) {
      window.localStorage.removeItem(name);
    }
  }
}
