"use client";
// The form engine (its JSON Schema compiler is most of its weight) as a chunk of its own: pages
// that need it ask for it when they open, so it is not part of any page's first load.
import { useEffect, useState } from "react";

type FormEngine = typeof import("@tenantmesh/form-engine");

let loading: Promise<FormEngine> | null = null;

export function loadFormEngine(): Promise<FormEngine> {
  loading ??= import("@tenantmesh/form-engine");
  return loading;
}

/** The engine once loaded; null until then. */
export function useFormEngine(): FormEngine | null {
  const [engine, setEngine] = useState<FormEngine | null>(null);
  useEffect(() => {
    let live = true;
    void loadFormEngine().then((loaded) => {
      if (live) setEngine(loaded);
    });
    return () => {
      live = false;
    };
  }, []);
  return engine;
}
