"use client";
import { AlertDialog } from "radix-ui";
import { useState, type ReactNode } from "react";
import { Button } from "./button";
import { Input } from "./input";

/** A confirmation dialog (focus trapped, Escape cancels). With `typeToConfirm`, the action stays
 * disabled until that text is typed: for deletions that cannot be undone. */
export function Confirm({
  trigger,
  title,
  confirmLabel,
  cancelLabel,
  typeToConfirm,
  destructive,
  onConfirm,
}: {
  trigger: ReactNode;
  title: string;
  confirmLabel: string;
  cancelLabel: string;
  typeToConfirm?: string;
  destructive?: boolean;
  onConfirm: () => void;
}) {
  const [typed, setTyped] = useState("");
  return (
    <AlertDialog.Root onOpenChange={() => setTyped("")}>
      <AlertDialog.Trigger asChild>{trigger}</AlertDialog.Trigger>
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="fixed inset-0 bg-black/40" />
        <AlertDialog.Content className="fixed top-1/3 left-1/2 w-[min(28rem,90vw)] -translate-x-1/2 rounded-lg bg-white p-5 shadow-lg">
          <AlertDialog.Title className="text-base font-semibold text-slate-900">{title}</AlertDialog.Title>
          <AlertDialog.Description className="sr-only">{title}</AlertDialog.Description>
          {typeToConfirm ? (
            <Input
              aria-label={typeToConfirm}
              className="mt-3"
              value={typed}
              onChange={(event) => setTyped(event.target.value)}
            />
          ) : null}
          <div className="mt-4 flex justify-end gap-2">
            <AlertDialog.Cancel asChild>
              <Button variant="outline">{cancelLabel}</Button>
            </AlertDialog.Cancel>
            <AlertDialog.Action asChild>
              <Button
                variant={destructive ? "destructive" : "default"}
                disabled={typeToConfirm !== undefined && typed !== typeToConfirm}
                onClick={onConfirm}
              >
                {confirmLabel}
              </Button>
            </AlertDialog.Action>
          </div>
        </AlertDialog.Content>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  );
}
