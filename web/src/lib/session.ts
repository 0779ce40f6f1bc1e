"use client";
// The signed-in session: access and refresh token in sessionStorage.
//
// Why there: sessionStorage is readable only by scripts of this origin (the console and the API
// share it; the page's CSP allows no other script), lives only as long as the tab, and is never
// sent anywhere by the browser on its own (unlike a cookie, so no CSRF). The service worker
// never sees tokens and never caches API answers.

import { create } from "zustand";

const STORAGE_KEY = "tm.session";

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** ms since the epoch */
  expiresAt: number;
}

export interface TokenSetJson {
  accessToken?: string;
  accessTokenExpireTime?: string;
  refreshToken?: string;
}

export interface Claims {
  sub?: string;
  tid?: string;
  exp?: number;
  [name: string]: unknown;
}

export function decodeClaims(token: string): Claims {
  try {
    const payload = token.split(".")[1] ?? "";
    const padded = payload.replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(padded)) as Claims;
  } catch {
    return {};
  }
}

export function tokensFrom(set: TokenSetJson | undefined): Tokens | null {
  if (!set?.accessToken || !set.refreshToken) {
    return null;
  }
  const expiresAt = set.accessTokenExpireTime
    ? Date.parse(set.accessTokenExpireTime)
    : Number(decodeClaims(set.accessToken).exp ?? 0) * 1000;
  return { accessToken: set.accessToken, refreshToken: set.refreshToken, expiresAt };
}

function load(): Tokens | null {
  if (typeof window === "undefined") {
    return null;
  }
  try {
    const value = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) ?? "null") as Tokens | null;
    return value && typeof value.accessToken === "string" && typeof value.refreshToken === "string" ? value : null;
  } catch {
    return null;
  }
}

interface SessionState {
  tokens: Tokens | null;
  setTokens: (tokens: Tokens | null) => void;
}

export const useSession = create<SessionState>((set) => ({
  tokens: load(),
  setTokens: (tokens) => {
    if (tokens) {
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
    } else {
      window.sessionStorage.removeItem(STORAGE_KEY);
    }
    set({ tokens });
  },
}));

/** The tenant the session's token belongs to. */
export function tokenTenant(tokens: Tokens | null): string | undefined {
  const tid = tokens ? decodeClaims(tokens.accessToken).tid : undefined;
  return typeof tid === "string" && tid ? tid : undefined;
}

/** Whose session this is: the person and the tenant their token is for ("sub@tid"), or null. Work
 * kept on this device for later (the offline queue) belongs to one owner and is sent only in that
 * owner's session. */
export function sessionOwner(tokens: Tokens | null): string | null {
  const claims = tokens ? decodeClaims(tokens.accessToken) : {};
  return typeof claims.sub === "string" && claims.sub && typeof claims.tid === "string" && claims.tid
    ? `${claims.sub}@${claims.tid}`
    : null;
}
