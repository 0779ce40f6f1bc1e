"use client";
import { useState } from "react";

/** AIP-158 paging in a list view: the current page token and the way back to the first page.
 * (Page tokens are opaque and only go forward.) */
export function usePageTokens() {
  const [tokens, setTokens] = useState<string[]>([]);
  const current = tokens[tokens.length - 1] ?? "";
  return {
    pageToken: current,
    isFirst: tokens.length === 0,
    next: (token: string) => setTokens((previous) => [...previous, token]),
    first: () => setTokens([]),
  };
}
