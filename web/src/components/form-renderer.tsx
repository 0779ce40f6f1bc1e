"use client";
// A published form (tenantmesh.forms.v1.FormDefinition) as controls, evaluated by the form engine
// on every change: what is shown, what is required, computed values and every violation, as the
// server will decide them. Labels and options come from the form's author: rendered as text.

import { compileDefinition, evaluateCompiled, type Json, type JsonObject } from "@tenantmesh/form-engine";
import { useMemo } from "react";
import { getAt, setAt } from "@/lib/schema-form";
import { FileUpload, type FileRules } from "./file-upload";
import { Field } from "./ui/field";
import { Input, Select, Textarea } from "./ui/input";

interface FieldDef {
  key: string;
  type: string;
  label?: Record<string, string>;
  helpText?: Record<string, string>;
  options?: { value: Json; label?: Record<string, string> }[];
  fields?: FieldDef[];
  fileRules?: FileRules;
}

function text(map: Record<string, string> | undefined, locale: string, fallback: string): string {
  return map?.[locale] ?? map?.en ?? Object.values(map ?? {})[0] ?? fallback;
}

export function useEvaluation(definition: JsonObject, answers: JsonObject, locale: string) {
  const compiled = useMemo(() => compileDefinition(definition), [definition]);
  return useMemo(() => evaluateCompiled(compiled, answers, locale), [compiled, answers, locale]);
}

export function FormRenderer({
  definition,
  answers,
  onChange,
  locale,
  showErrors,
  serverErrors = {},
}: {
  definition: JsonObject;
  answers: JsonObject;
  onChange: (answers: JsonObject) => void;
  locale: string;
  showErrors: boolean;
  serverErrors?: Record<string, string>;
}) {
  const evaluation = useEvaluation(definition, answers, locale);
  const errorAt = (pointer: string) =>
    serverErrors[pointer] ?? (showErrors ? evaluation.violations.find((v) => v.pointer === pointer)?.message : undefined);
  const render = (fields: FieldDef[], prefix: string) =>
    fields.map((field) => {
      const pointer = `${prefix}/${field.key}`;
      if (evaluation.visible[pointer] === false) {
        return null;
      }
      const label = text(field.label, locale, field.key);
      const type = field.type.replace(/^FIELD_TYPE_/, "");
      if (type === "SECTION" || type === "PAGE" || type === "GROUP") {
        return (
          <fieldset key={pointer} className="rounded border border-slate-300 p-3">
            <legend className="px-1 text-sm font-semibold">{label}</legend>
            <div className="flex flex-col gap-3">{render(field.fields ?? [], type === "GROUP" ? pointer : prefix)}</div>
          </fieldset>
        );
      }
      if (type === "HIDDEN") {
        return null;
      }
      const value = getAt(answers, pointer);
      const set = (next: Json | undefined) => onChange(setAt(answers, pointer, next));
      const required = evaluation.required.includes(pointer);
      return (
        <Field
          key={pointer}
          label={label + (required ? " *" : "")}
          help={field.helpText ? text(field.helpText, locale, "") : undefined}
          error={errorAt(pointer)}
        >
          {control(type, field, value, set, evaluation.computed[pointer], locale)}
        </Field>
      );
    });
  return <div className="flex flex-col gap-3">{render((definition.fields ?? []) as unknown as FieldDef[], "")}</div>;
}

function control(
  type: string,
  field: FieldDef,
  value: Json | undefined,
  set: (value: Json | undefined) => void,
  computed: Json | undefined,
  locale: string,
) {
  const asText = typeof value === "string" ? value : "";
  switch (type) {
    case "LONG_TEXT":
      return <Textarea rows={4} value={asText} onChange={(e) => set(e.target.value === "" ? undefined : e.target.value)} />;
    case "NUMBER":
    case "INTEGER":
      return (
        <Input
          type="number"
          step={type === "INTEGER" ? 1 : "any"}
          value={typeof value === "number" ? value : ""}
          onChange={(e) => set(e.target.value === "" ? undefined : Number(e.target.value))}
        />
      );
    case "CHECKBOX":
      return <input type="checkbox" className="h-4 w-4" checked={value === true} onChange={(e) => set(e.target.checked)} />;
    case "SINGLE_CHOICE":
      return (
        <Select value={value === undefined ? "" : JSON.stringify(value)} onChange={(e) => set(e.target.value ? (JSON.parse(e.target.value) as Json) : undefined)}>
          <option value="">—</option>
          {(field.options ?? []).map((option) => (
            <option key={JSON.stringify(option.value)} value={JSON.stringify(option.value)}>
              {text(option.label, locale, String(option.value))}
            </option>
          ))}
        </Select>
      );
    case "FILE":
      return <FileUpload value={typeof value === "string" ? value : undefined} onChange={set} rules={field.fileRules} />;
    case "COMPUTED":
      return <Input readOnly value={computed === undefined || computed === null ? "" : String(computed)} />;
    case "DATE":
    case "TIME":
    case "EMAIL":
    case "URL":
    case "PHONE": {
      const inputType = { DATE: "date", TIME: "time", EMAIL: "email", URL: "url", PHONE: "tel" }[type];
      return <Input type={inputType} value={asText} onChange={(e) => set(e.target.value === "" ? undefined : e.target.value)} />;
    }
    default:
      return <Input value={asText} onChange={(e) => set(e.target.value === "" ? undefined : e.target.value)} />;
  }
}
