/** Remote words on one line and of bounded length, fit for an error message. */
export function oneLine(text: string, max = 200): string {
  const folded = text.replace(/\s+/g, ' ').trim();
  return folded.length > max ? `${folded.slice(0, max)}…` : folded;
}
