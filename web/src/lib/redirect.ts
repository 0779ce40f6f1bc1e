// Any base does: only whether the path stays on it matters.
const HERE = "https://console.invalid";

/**
 * ``path`` if it is a path of this console, else undefined. Browsers drop tabs and line breaks
 * from a URL and read a backslash as a slash, so "/\t/evil.example" and "/\evil.example" lead to
 * another origin although they start with one slash: such characters are refused, and what is
 * left must resolve to this origin.
 */
export function consolePath(path: string | null | undefined): string | undefined {
  if (!path || !path.startsWith("/") || path.startsWith("//") || [...path].some(dropsOrTurns)) {
    return undefined;
  }
  return new URL(path, HERE).origin === HERE ? path : undefined;
}

/** A character a browser drops from a URL (controls) or reads as a slash (backslash). */
function dropsOrTurns(character: string): boolean {
  const code = character.charCodeAt(0);
  return code < 0x20 || code === 0x7f || character === "\\";
}

/** Where to go after signing in: only a path of this console, never another origin. */
export function safeNext(next: string | null): string {
  return consolePath(next) ?? "/dashboard";
}
