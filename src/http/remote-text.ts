/**
 * Remote words (error pages, reports, headers) go into messages that end up on one log line, so
 * they are folded to one line and cut: a proxy's error page or a report on thousands of users must
 * not flood the log.
 */
export function excerpt(text: string, max: number): string {
  const folded = blankSecrets(text).replace(/\s+/g, ' ').trim();
  return folded.length <= max ? folded : `${folded.slice(0, max - 1)}…`;
}

/**
 * Secrets are blanked before a text is cut, never after: a cut through an echoed token would leave a
 * piece of it that no later blanking recognises. The run's secret scrubber (runtime/secrets.ts)
 * installs itself here, so every excerpt of remote words, in either adapter, is blanked first.
 */
let blankSecrets: (text: string) => string = (text) => text;
export function blankSecretsBeforeCuts(blank: (text: string) => string): void {
  blankSecrets = blank;
}

/** `text` with the run's secrets blanked: for a cut made elsewhere (a trace body). */
export function withSecretsBlanked(text: string): string {
  return blankSecrets(text);
}

/** The readable part of an HTML error page: its title, else its first heading. */
export function htmlHeadline(text: string, max: number): string | undefined {
  if (!text.trimStart().startsWith('<')) return undefined;
  for (const tag of ['title', 'h1']) {
    const m = new RegExp(`<${tag}\\b[^>]*>([\\s\\S]*?)</${tag}\\s*>`, 'i').exec(text);
    const words = m ? excerpt(decodeEntities(m[1]!.replace(/<[^>]*>/g, ' ')), max) : '';
    if (words) return words;
  }
  return undefined;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1]!.toLowerCase() === 'x' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/**
 * `user:password@` taken out of every URL in the text. A controller_uri from OA, or an echoed URL in a
 * remote's message, may carry credentials nobody must read in a log, a trace or on a terminal.
 */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>\\]+@/gi;
export function withoutUrlCredentials(text: string): string {
  return text.includes('://') ? text.replace(URL_CREDENTIALS, '$1') : text;
}
