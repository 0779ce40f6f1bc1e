"use client";
// The control of a FILE field: pick a file, watch it upload (progress, cancel), and the field's
// answer becomes the file's reference. A file the field's rules refuse is refused before it is
// sent; a refusal of the server is worded by its reason (errors.ts). File names come from the person: text.

import { useRef, useState } from "react";
import { errorDetails } from "@/lib/errors";
import { useErrorText, useFormat, useT } from "@/lib/i18n";
import { fileRuleProblem, UploadCancelled, uploadFile, type UploadProgress } from "@/lib/upload";
import { Button } from "./ui/button";

export interface FileRules {
  maxBytes?: string | number;
  accept?: string[];
}

type Status =
  | { kind: "idle" }
  | { kind: "uploading"; name: string; progress: UploadProgress }
  | { kind: "done"; name: string; size: number }
  | { kind: "cancelled" }
  | { kind: "failed"; message: string };

export function FileUpload({
  value,
  onChange,
  rules,
  ...inputProps
}: {
  value: string | undefined;
  onChange: (fileId: string | undefined) => void;
  rules?: FileRules;
  id?: string;
  "aria-describedby"?: string;
  "aria-invalid"?: boolean;
}) {
  const t = useT();
  const errorText = useErrorText();
  const fmt = useFormat();
  const [status, setStatus] = useState<Status>({ kind: "idle" });
  const abort = useRef<AbortController | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const start = async (file: File) => {
    onChange(undefined);
    const problem = fileRuleProblem(file, rules);
    if (problem) {
      setStatus({
        kind: "failed",
        message: problem === "tooLarge" ? t("upload.tooLarge", { max: fmt.bytes(Number(rules?.maxBytes ?? 0)) }) : t("upload.typeNotAllowed"),
      });
      return;
    }
    const controller = new AbortController();
    abort.current = controller;
    setStatus({ kind: "uploading", name: file.name, progress: { loaded: 0, total: file.size } });
    try {
      const uploaded = await uploadFile(file, {
        signal: controller.signal,
        onProgress: (progress) => setStatus({ kind: "uploading", name: file.name, progress }),
      });
      setStatus({ kind: "done", name: uploaded.filename ?? file.name, size: Number(uploaded.sizeBytes ?? file.size) });
      onChange(uploaded.fileId);
    } catch (error) {
      if (error instanceof UploadCancelled) {
        setStatus({ kind: "cancelled" });
      } else {
        console.warn("upload refused:", errorDetails(error)); // the server's own words, for support
        setStatus({ kind: "failed", message: t("upload.failed", { message: errorText(error) }) });
      }
      if (input.current) input.current.value = "";
    } finally {
      abort.current = null;
    }
  };
  const percent = status.kind === "uploading" && status.progress.total > 0 ? Math.floor((status.progress.loaded / status.progress.total) * 100) : 0;
  return (
    <div className="flex flex-col gap-2">
      <input
        {...inputProps}
        ref={input}
        type="file"
        accept={rules?.accept?.join(",") || undefined}
        disabled={status.kind === "uploading"}
        className="text-sm file:mr-3 file:rounded-md file:border file:border-slate-500 file:bg-white file:px-3 file:py-1"
        onChange={(event) => {
          const file = event.target.files?.[0];
          if (file) void start(file);
        }}
      />
      {status.kind === "uploading" ? (
        <div className="flex items-center gap-2 text-sm" data-testid="upload-progress">
          <progress className="h-2 w-48" max={100} value={percent} aria-label={t("upload.progress", { name: status.name })} />
          <span aria-live="polite">{percent} %</span>
          <Button type="button" size="sm" variant="outline" onClick={() => abort.current?.abort()}>
            {t("upload.cancel")}
          </Button>
        </div>
      ) : null}
      {status.kind === "done" && value ? (
        <p className="flex items-center gap-2 text-sm" data-testid="upload-done">
          <span>{t("upload.done", { name: status.name, size: fmt.bytes(status.size) })}</span>
          <Button
            type="button"
            size="sm"
            variant="ghost"
            onClick={() => {
              onChange(undefined);
              setStatus({ kind: "idle" });
              if (input.current) input.current.value = "";
            }}
          >
            {t("upload.remove")}
          </Button>
        </p>
      ) : null}
      {status.kind === "cancelled" ? (
        <p className="text-sm" role="status">
          {t("upload.cancelled")}
        </p>
      ) : null}
      {status.kind === "failed" ? (
        <p className="text-sm text-red-800" role="alert" data-testid="upload-error">
          {status.message}
        </p>
      ) : null}
    </div>
  );
}
