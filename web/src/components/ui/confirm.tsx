"use client";
// A confirmed action: its trigger renders with the page; the dialog (and the dialog library) is
// fetched the first time it opens, so pages with many confirmed actions keep a small first load.
import { cloneElement, lazy, Suspense, useRef, useState, type MouseEvent, type ReactElement } from "react";

const ConfirmDialog = lazy(() => import("./confirm-dialog"));

type TriggerProps = { onClick?: (event: MouseEvent<HTMLElement>) => void; "aria-haspopup"?: "dialog" };

/** A confirmation dialog (focus trapped, Escape cancels, focus back on the trigger). With
 * `typeToConfirm`, the action stays disabled until that text is typed: for deletions that cannot
 * be undone. */
export function Confirm({
  trigger,
  title,
  confirmLabel,
  cancelLabel,
  typeToConfirm,
  destructive,
  onConfirm,
}: {
  trigger: ReactElement<TriggerProps>;
  title: string;
  confirmLabel: string;
  cancelLabel: string;
  typeToConfirm?: string;
  destructive?: boolean;
  onConfirm: () => void;
}) {
  const [open, setOpen] = useState(false);
  const opener = useRef<HTMLElement | null>(null);
  return (
    <>
      {cloneElement(trigger, {
        "aria-haspopup": "dialog",
        onClick: (event: MouseEvent<HTMLElement>) => {
          trigger.props.onClick?.(event);
          opener.current = event.currentTarget;
          setOpen(true);
        },
      })}
      {open ? (
        <Suspense fallback={null}>
          <ConfirmDialog
            title={title}
            confirmLabel={confirmLabel}
            cancelLabel={cancelLabel}
            typeToConfirm={typeToConfirm}
            destructive={destructive}
            onConfirm={onConfirm}
            onClose={() => setOpen(false)}
            returnFocus={() => opener.current?.focus()}
          />
        </Suspense>
      ) : null}
    </>
  );
}
