"use client";
// A form rendered from a JSON Schema, validated on every change by the form engine (the server's
// rules), server field violations shown at their fields too.

import type { Json, JsonObject } from "@tenantmesh/form-engine";
import { useMemo, useState } from "react";
import { useLocaleStore, useT } from "@/lib/i18n";
import { controlsOf, getAt, setAt, violationsOf, type Control } from "@/lib/schema-form";
import { Button } from "./ui/button";
import { Field } from "./ui/field";
import { Input, Select, Textarea } from "./ui/input";

export function SchemaForm({
  schema,
  initial,
  submitLabel,
  busy,
  onSubmit,
}: {
  schema: JsonObject;
  initial: JsonObject;
  submitLabel: string;
  busy?: boolean;
  onSubmit: (answers: JsonObject) => void;
}) {
  const t = useT();
  const locale = useLocaleStore((s) => s.locale);
  const [answers, setAnswers] = useState<JsonObject>(initial);
  const [touched, setTouched] = useState(false);
  const controls = useMemo(() => controlsOf(schema), [schema]);
  const violations = useMemo(() => violationsOf(schema, answers, locale), [schema, answers, locale]);
  const errorAt = (pointer: string) => violations.find((v) => v.pointer === pointer)?.message;
  const general = violations.filter((v) => !controls.some((c) => c.pointer === v.pointer));
  return (
    <form
      noValidate
      className="flex flex-col gap-3"
      onSubmit={(event) => {
        event.preventDefault();
        setTouched(true);
        if (violations.length === 0) {
          onSubmit(answers);
        }
      }}
    >
      {controls.map((control) => (
        <Field
          key={control.pointer}
          label={control.label + (control.required ? " *" : "")}
          help={control.description || undefined}
          error={touched ? errorAt(control.pointer) : undefined}
        >
          {renderControl(control, getAt(answers, control.pointer), (value) => setAnswers((a) => setAt(a, control.pointer, value)))}
        </Field>
      ))}
      {touched && general.length > 0 ? (
        <ul role="alert" className="text-sm text-red-800">
          {general.map((v) => (
            <li key={v.pointer + v.keyword}>
              {v.pointer || "/"}: {v.message}
            </li>
          ))}
        </ul>
      ) : null}
      <div>
        <Button type="submit" disabled={busy}>
          {submitLabel || t("common.save")}
        </Button>
      </div>
    </form>
  );
}

function renderControl(control: Control, value: Json | undefined, set: (value: Json | undefined) => void) {
  switch (control.kind) {
    case "boolean":
      return <input type="checkbox" className="h-4 w-4" checked={value === true} onChange={(e) => set(e.target.checked)} />;
    case "choice":
      return (
        <Select value={value === undefined ? "" : JSON.stringify(value)} onChange={(e) => set(e.target.value ? (JSON.parse(e.target.value) as Json) : undefined)}>
          <option value="">—</option>
          {control.choices.map((choice) => (
            <option key={JSON.stringify(choice)} value={JSON.stringify(choice)}>
              {String(choice)}
            </option>
          ))}
        </Select>
      );
    case "number":
    case "integer":
      return (
        <Input
          type="number"
          step={control.kind === "integer" ? 1 : "any"}
          value={typeof value === "number" ? value : ""}
          onChange={(e) => set(e.target.value === "" ? undefined : Number(e.target.value))}
        />
      );
    case "json":
      return <JsonInput value={value} set={set} />;
    default:
      return <Input value={typeof value === "string" ? value : ""} onChange={(e) => set(e.target.value === "" ? undefined : e.target.value)} />;
  }
}

/** Arrays and free-form values: edited as JSON text. */
function JsonInput({ value, set }: { value: Json | undefined; set: (value: Json | undefined) => void }) {
  const [text, setText] = useState(value === undefined ? "" : JSON.stringify(value));
  return (
    <Textarea
      rows={2}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        try {
          set(e.target.value === "" ? undefined : (JSON.parse(e.target.value) as Json));
        } catch {
          // Not JSON yet: keep typing.
        }
      }}
    />
  );
}
