import type { ComponentProps } from "react";
import { cn } from "@/lib/utils";

export function Card({ className, ...props }: ComponentProps<"section">) {
  return <section className={cn("rounded-lg border border-slate-300 bg-white p-5 shadow-sm", className)} {...props} />;
}

export function Alert({ className, tone = "error", ...props }: ComponentProps<"div"> & { tone?: "error" | "info" | "success" }) {
  const tones = {
    error: "border-red-700 bg-red-50 text-red-900",
    info: "border-blue-700 bg-blue-50 text-blue-900",
    success: "border-green-700 bg-green-50 text-green-900",
  };
  return <div role={tone === "error" ? "alert" : "status"} className={cn("rounded-md border p-3 text-sm", tones[tone], className)} {...props} />;
}

export function Badge({ className, ...props }: ComponentProps<"span">) {
  return <span className={cn("inline-block rounded bg-slate-200 px-2 py-0.5 text-xs font-medium text-slate-900", className)} {...props} />;
}
