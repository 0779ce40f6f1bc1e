"use client";
// The tenant tenant-scoped calls act in. A person acts in the tenant of their token; a platform
// administrator may open another tenant from the admin portal and manage it (the edge and the
// services check that they may).

import { create } from "zustand";

const STORAGE_KEY = "tm.actingTenant";

interface ActingTenant {
  tenantId: string | null;
  label: string | null;
  actIn: (tenantId: string | null, label?: string | null) => void;
}

function load(): Pick<ActingTenant, "tenantId" | "label"> {
  if (typeof window === "undefined") {
    return { tenantId: null, label: null };
  }
  try {
    const value = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) ?? "null") as {
      tenantId?: string;
      label?: string;
    } | null;
    return { tenantId: value?.tenantId ?? null, label: value?.label ?? null };
  } catch {
    return { tenantId: null, label: null };
  }
}

export const useActingTenant = create<ActingTenant>((set) => ({
  ...load(),
  actIn: (tenantId, label = null) => {
    if (tenantId) {
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ tenantId, label }));
    } else {
      window.sessionStorage.removeItem(STORAGE_KEY);
    }
    set({ tenantId, label });
  },
}));
