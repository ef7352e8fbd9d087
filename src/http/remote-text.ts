/**
 * Remote words (error pages, reports, headers) go into messages that end up on one log line, so
 * they are folded to one line and cut: a proxy's error page or a report on thousands of users must
 * not flood the log.
 */
export function excerpt(text: string, max: number): string {
  const folded = text.replace(/\s+/g, ' ').trim();
  return folded.length <= max ? folded : `${folded.slice(0, max - 1)}…`;
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
