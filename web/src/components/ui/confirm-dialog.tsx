"use client";
// The confirmation dialog itself, loaded only when a Confirm opens (see confirm.tsx): the dialog
// library stays out of the first load of the pages that offer a confirmed action.
import { AlertDialog } from "radix-ui";
import { useState } from "react";
import { Button } from "./button";
import { Input } from "./input";

export interface ConfirmDialogProps {
  title: string;
  confirmLabel: string;
  cancelLabel: string;
  typeToConfirm?: string;
  destructive?: boolean;
  onConfirm: () => void;
  /** Called when the dialog closes, by either button or Escape. */
  onClose: () => void;
  /** Where focus goes back to on close (the dialog has no trigger of its own to return to). */
  returnFocus: () => void;
}

export default function ConfirmDialog({
  title,
  confirmLabel,
  cancelLabel,
  typeToConfirm,
  destructive,
  onConfirm,
  onClose,
  returnFocus,
}: ConfirmDialogProps) {
  const [typed, setTyped] = useState("");
  return (
    <AlertDialog.Root
      open
      onOpenChange={(open) => {
        if (!open) onClose();
      }}
    >
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="fixed inset-0 bg-black/40" />
        <AlertDialog.Content
          className="fixed top-1/3 left-1/2 w-[min(28rem,90vw)] -translate-x-1/2 rounded-lg bg-white p-5 shadow-lg"
          onCloseAutoFocus={(event) => {
            event.preventDefault();
            returnFocus();
          }}
        >
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
