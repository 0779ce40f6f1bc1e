"use client";
// Form submissions made while offline (or while the edge is unreachable) wait here and are sent
// when the connection returns. Each carries the request_id it was made with, so the server takes
// it once however many times it is sent (a reply lost on the way back means a second send).
//
// Kept in localStorage (answers, never tokens), each under the session that made it ("sub@tid",
// see sessionOwner): it is sent, counted and shown only in that person's session in that tenant,
// so a browser shared by two people never sends one person's answers under the other's name.
// Signing out deletes the person's queued answers (in every tenant) from the device, after asking
// (app-shell.tsx);
// a session that merely expired keeps them for when the same person signs in again.

import { create } from "zustand";
import { CODES, type CallOptions, type OperationId } from "@tenantmesh/sdk";
import { api, TenantmeshError } from "./api";
import { sessionOwner, useSession } from "./session";

const STORAGE_KEY = "tm.outbox";
const RETRY_EVERY_MS = 15_000;

export interface QueuedCall {
  id: string;
  /** The session that queued it (sessionOwner): only that session sends it. */
  owner: string;
  operation: OperationId;
  options: { path?: Record<string, string>; body?: Record<string, unknown>; tenantId?: string };
  queuedAt: string;
  /** Set when the server refused it (not a network failure): kept for the person to see, with
   * the refusal's gRPC code and ErrorInfo reason that word it in their language (errors.ts). */
  error?: string;
  errorCode?: string;
  errorReason?: string;
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
    // An entry without an owner cannot be attributed to anyone, so it is never sent.
    return Array.isArray(items)
      ? (items as QueuedCall[]).filter((item) => typeof item?.owner === "string" && item.owner !== "")
      : [];
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
  const owner = currentOwner();
  if (owner && typeof navigator !== "undefined" && !navigator.onLine) {
    enqueue(owner, operation, options);
    return { queued: true };
  }
  try {
    await api(operation, options as CallOptions<K>);
    return { queued: false };
  } catch (error) {
    if (owner && isTransient(error)) {
      enqueue(owner, operation, options);
      return { queued: true };
    }
    throw error;
  }
}

function currentOwner(): string | null {
  return sessionOwner(useSession.getState().tokens);
}

function enqueue(owner: string, operation: OperationId, options: QueuedCall["options"]): void {
  const { items, replace } = useOfflineQueue.getState();
  replace([...items, { id: crypto.randomUUID(), owner, operation, options, queuedAt: new Date().toISOString() }]);
}

/** What ``owner`` has on this device: calls still to send, and calls the server refused. */
export function queuedFor(items: QueuedCall[], owner: string | null): { waiting: QueuedCall[]; refused: QueuedCall[] } {
  const own = owner ? items.filter((item) => item.owner === owner) : [];
  return { waiting: own.filter((item) => !item.error), refused: own.filter((item) => item.error) };
}

/** The signed-in person's queued calls (re-rendered when either the queue or the session changes). */
export function useOwnQueue(): { waiting: QueuedCall[]; refused: QueuedCall[] } {
  const items = useOfflineQueue((s) => s.items);
  const owner = useSession((s) => sessionOwner(s.tokens));
  return queuedFor(items, owner);
}

/** Deletes the signed-in person's refused calls in this session's tenant (they have read them). */
export function dismissRefused(owner: string | null): void {
  const { items, replace } = useOfflineQueue.getState();
  replace(items.filter((item) => item.owner !== owner || !item.error));
}

/** The queued calls of the person behind ``owner``, in every tenant they queued calls in. */
export function personsQueue(items: QueuedCall[], owner: string | null): QueuedCall[] {
  const person = owner ? `${owner.slice(0, owner.lastIndexOf("@"))}@` : null;
  return person ? items.filter((item) => item.owner.startsWith(person)) : [];
}

/** On sign-out: deletes everything the person behind ``owner`` queued on this device. */
export function discardPersonsQueue(owner: string | null): void {
  const { items, replace } = useOfflineQueue.getState();
  const theirs = new Set(personsQueue(items, owner));
  replace(items.filter((item) => !theirs.has(item)));
}

/** Sends what the signed-in person has waiting, oldest first; stops at the first network failure
 * (tries again later). Other people's calls stay where they are. */
export async function flushQueue(): Promise<void> {
  const state = useOfflineQueue.getState();
  const owner = currentOwner();
  if (state.sending || !owner) {
    return;
  }
  useOfflineQueue.setState({ sending: true });
  try {
    for (const item of queuedFor(useOfflineQueue.getState().items, owner).waiting) {
      if (currentOwner() !== owner) {
        return; // signed out (or switched tenant) while sending
      }
      try {
        await api(item.operation, item.options as CallOptions<OperationId>);
        const { items, replace } = useOfflineQueue.getState();
        replace(items.filter((i) => i.id !== item.id));
      } catch (error) {
        // A session that ended while sending is not the server refusing the call: it waits for
        // the person to sign in again.
        if (isTransient(error) || (error instanceof TenantmeshError && error.status === 401)) {
          return;
        }
        const { items, replace } = useOfflineQueue.getState();
        const refusal = {
          error: error instanceof Error ? error.message : String(error),
          errorCode: error instanceof TenantmeshError ? error.code : undefined,
          errorReason: error instanceof TenantmeshError ? error.reason : undefined,
        };
        replace(items.map((i) => (i.id === item.id ? { ...i, ...refusal } : i)));
      }
    }
  } finally {
    useOfflineQueue.setState({ sending: false });
  }
}

/** A queued call's refusal as an error again, for the words of its reason. */
export function refusalOf(item: QueuedCall): TenantmeshError {
  const code = CODES.find((name) => name === item.errorCode) ?? "UNKNOWN";
  return new TenantmeshError({ status: 0, code, reason: item.errorReason, message: item.error ?? "" });
}

/** Flushes when the browser comes back online, at start and every so often; returns a stop. */
export function startOfflineQueue(): () => void {
  const flush = () => void flushQueue();
  window.addEventListener("online", flush);
  const timer = window.setInterval(() => {
    if (navigator.onLine && queuedFor(useOfflineQueue.getState().items, currentOwner()).waiting.length > 0) {
      flush();
    }
  }, RETRY_EVERY_MS);
  // A person signing in (again) finds their waiting calls sent without waiting for the timer.
  const unsubscribe = useSession.subscribe((state, previous) => {
    if (navigator.onLine && sessionOwner(state.tokens) !== sessionOwner(previous.tokens)) {
      flush();
    }
  });
  if (navigator.onLine) {
    flush();
  }
  return () => {
    window.removeEventListener("online", flush);
    window.clearInterval(timer);
    unsubscribe();
  };
}
