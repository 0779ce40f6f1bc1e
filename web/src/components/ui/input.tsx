import type { ComponentProps } from "react";
import { cn } from "@/lib/utils";

export function Input({ className, ...props }: ComponentProps<"input">) {
  return (
    <input
      className={cn(
        "h-9 w-full rounded-md border border-slate-500 bg-white px-3 text-sm text-slate-900 placeholder:text-slate-600 focus-visible:outline-2 focus-visible:outline-blue-700 aria-[invalid=true]:border-red-700",
        className,
      )}
      {...props}
    />
  );
}

export function Select({ className, ...props }: ComponentProps<"select">) {
  return (
    <select
      className={cn(
        "h-9 rounded-md border border-slate-500 bg-white px-2 text-sm text-slate-900 focus-visible:outline-2 focus-visible:outline-blue-700",
        className,
      )}
      {...props}
    />
  );
}

export function Textarea({ className, ...props }: ComponentProps<"textarea">) {
  return (
    <textarea
      className={cn(
        "w-full rounded-md border border-slate-500 bg-white p-2 text-sm text-slate-900 focus-visible:outline-2 focus-visible:outline-blue-700",
        className,
      )}
      {...props}
    />
  );
}
