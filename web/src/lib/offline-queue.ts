"use client";
// Form submissions made while offline (or while the edge is unreachable) wait here and are sent
// when the connection returns. Each carries the request_id it was made with, so the server takes
// it once however many times it is sent (a reply lost on the way back means a second send).
// Kept in localStorage: answers, never tokens; sending uses the session current at that time.

import { create } from "zustand";
import type { CallOptions, OperationId } from "@tenantmesh/sdk";
import { api, TenantmeshError } from "./api";

const STORAGE_KEY = "tm.outbox";
const RETRY_EVERY_MS = 15_000;

export interface QueuedCall {
  id: string;
  operation: OperationId;
  options: { path?: Record<string, string>; body?: Record<string, unknown>; tenantId?: string };
  queuedAt: string;
  /** Set when the server refused it (not a network failure): kept for the person to see. */
  error?: string;
}

interface QueueState {
  items: QueuedCall[];
  sending: boolean;
  replace: (items: QueuedCall[]) => void;
}

function load(): QueuedCall[] {
  if (typeof window === "undefined") {
    return [];
  }
  try {
    const items = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? "[]") as unknown;
    return Array.isArray(items) ? (items as QueuedCall[]) : [];
  } catch {
    return [];
  }
}

export const useOfflineQueue = create<QueueState>((set) => ({
  items: load(),
  sending: false,
  replace: (items) => {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(items));
    set({ items });
  },
}));

/** True for a failure that says nothing about the request itself: no network, edge down. */
export function isTransient(error: unknown): boolean {
  if (error instanceof TenantmeshError) {
    return error.status === 502 || error.status === 503 || error.status === 504 || error.status === 429;
  }
  return error instanceof TypeError; // fetch's "Failed to fetch"
}

/** Sends ``operation`` now; when the network is down, queues it and says so (`queued: true`).
 * The body must already carry its requestId. */
export async function sendOrQueue<K extends OperationId>(
  operation: K,
  options: QueuedCall["options"],
): Promise<{ queued: boolean }> {
  if (typeof navigator !== "undefined" && !navigator.onLine) {
    enqueue(operation, options);
    return { queued: true };
  }
  try {
    await api(operation, options as CallOptions<K>);
    return { queued: false };
  } catch (error) {
    if (isTransient(error)) {
      enqueue(operation, options);
      return { queued: true };
    }
    throw error;
  }
}

function enqueue(operation: OperationId, options: QueuedCall["options"]): void {
  const { items, replace } = useOfflineQueue.getState();
  replace([...items, { id: crypto.randomUUID(), operation, options, queuedAt: new Date().toISOString() }]);
}

/** Sends what waits, oldest first; stops at the first network failure (tries again later). */
export async function flushQueue(): Promise<void> {
  const state = useOfflineQueue.getState();
  if (state.sending) {
    return;
  }
  useOfflineQueue.setState({ sending: true });
  try {
    for (const item of useOfflineQueue.getState().items.filter((i) => !i.error)) {
      try {
        await api(item.operation, item.options as CallOptions<OperationId>);
        const { items, replace } = useOfflineQueue.getState();
        replace(items.filter((i) => i.id !== item.id));
      } catch (error) {
        if (isTransient(error)) {
          return;
        }
        const { items, replace } = useOfflineQueue.getState();
        const message = error instanceof Error ? error.message : String(error);
        replace(items.map((i) => (i.id === item.id ? { ...i, error: message } : i)));
      }
    }
  } finally {
    useOfflineQueue.setState({ sending: false });
  }
}

/** Flushes when the browser comes back online, at start and every so often; returns a stop. */
export function startOfflineQueue(): () => void {
  const flush = () => void flushQueue();
  window.addEventListener("online", flush);
  const timer = window.setInterval(() => {
    if (navigator.onLine && useOfflineQueue.getState().items.some((i) => !i.error)) {
      flush();
    }
  }, RETRY_EVERY_MS);
  if (navigator.onLine) {
    flush();
  }
  return () => {
    window.removeEventListener("online", flush);
    window.clearInterval(timer);
  };
}
