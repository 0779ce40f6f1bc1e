// Server streams through the edge are one JSON array whose elements arrive as the service
// sends them. This reads them one by one, without waiting for the array to end.

/** Yields each element of a JSON array as soon as it has fully arrived. */
export async function* jsonArrayElements(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let started = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (value) {
        buffer += decoder.decode(value, { stream: true });
      }
      for (;;) {
        const next = nextElement(buffer, started);
        if (next === undefined) {
          break;
        }
        started = true;
        buffer = next.rest;
        if (next.element === END) {
          return;
        }
        if (next.element !== START) {
          yield next.element;
        }
      }
      if (done) {
        throw new SyntaxError("the stream ended before its JSON array did");
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

const START = Symbol("start");
const END = Symbol("end");

/** The next token of the array in `buffer`: its opening, one element, or its end. */
function nextElement(buffer: string, started: boolean): { element: unknown; rest: string } | undefined {
  let i = skipSpace(buffer, 0);
  if (i >= buffer.length) {
    return undefined;
  }
  if (!started) {
    if (buffer[i] !== "[") {
      throw new SyntaxError("a stream's body is a JSON array");
    }
    return { element: START, rest: buffer.slice(i + 1) };
  }
  if (buffer[i] === ",") {
    i = skipSpace(buffer, i + 1);
  }
  if (i >= buffer.length) {
    return undefined;
  }
  if (buffer[i] === "]") {
    return { element: END, rest: buffer.slice(i + 1) };
  }
  const end = valueEnd(buffer, i);
  if (end === undefined) {
    return undefined;
  }
  return { element: JSON.parse(buffer.slice(i, end)) as unknown, rest: buffer.slice(end) };
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && " \t\r\n".includes(text[i] ?? "")) {
    i += 1;
  }
  return i;
}

/** Where the JSON value starting at `start` ends, or undefined if it has not fully arrived. */
function valueEnd(text: string, start: number): number | undefined {
  const first = text[start];
  if (first !== "{" && first !== "[") {
    // A scalar element: it ends at the next "," or "]" (strings here never hold them unescaped
    // in a way that matters, but scan strings properly anyway).
    let i = start;
    let inString = false;
    for (; i < text.length; i += 1) {
      const c = text[i];
      if (inString) {
        if (c === "\\") i += 1;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "," || c === "]") return i;
    }
    return undefined;
  }
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i += 1;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth += 1;
    else if (c === "}" || c === "]") {
      depth -= 1;
      if (depth === 0) return i + 1;
    }
  }
  return undefined;
}
