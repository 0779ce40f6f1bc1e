// What the submissions page needs to know of a form version (pure; unit-tested).

interface FieldLike {
  key?: string;
  type?: string;
  fields?: FieldLike[];
}

/** The answer keys of a definition's top-level FILE fields (through sections and pages, which
 * add no level to the answers; a group's answers are an object of their own). */
export function fileFieldKeys(definition: { fields?: unknown } | undefined): Set<string> {
  const keys = new Set<string>();
  const walk = (fields: FieldLike[]) => {
    for (const field of fields) {
      const type = (field.type ?? "").replace(/^FIELD_TYPE_/, "");
      if (type === "FILE" && field.key) keys.add(field.key);
      if (type === "SECTION" || type === "PAGE") walk(field.fields ?? []);
    }
  };
  walk(Array.isArray(definition?.fields) ? (definition.fields as FieldLike[]) : []);
  return keys;
}
