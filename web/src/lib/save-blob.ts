/** Hands ``blob`` to the browser as a download named ``filename`` (a name from other people is
 * only ever a download name here, never a path or markup). */
export function saveBlob(blob: Blob, filename: string): void {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  link.click();
  URL.revokeObjectURL(link.href);
}
