/**
 * Remote text (error pages, reports, headers) goes into messages that end up on one log line, so it
 * is folded to one line and cut: a proxy's error page or a report on thousands of users must not
 * flood the log.
 */
export function excerpt(text: string, max: number): string {
  const folded = text.replace(/\s+/g, ' ').trim();
  return folded.length <= max ? folded : `${folded.slice(0, max - 1)}…`;
}
