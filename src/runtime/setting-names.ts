/**
 * Variables that look like a misspelt setting. The environment holds many variables of other programs,
 * so only names that begin like ours (one of this tool's own prefixes) or are within two edits of a
 * setting's name are suspects; each is reported with the setting it most likely meant.
 */

/** The prefixes only this tool's settings use; generic ones (LOG_, MAX_) would catch other programs' variables. */
const OWN_PREFIXES = ['OFFICE_', 'OA_', 'APS_', 'SYNC_'];
/** Two edits catch a dropped, doubled, swapped or wrong letter or two, and little else in a real environment. */
const MAX_EDITS = 2;

export interface MisspeltSetting {
  /** The variable as given. */
  given: string;
  /** The setting it most likely meant. */
  meant: string;
  /** 'the environment' or the env file's path. */
  where: string;
}

export function misspeltSettings(known: readonly string[], given: Iterable<string>, where: string): MisspeltSetting[] {
  const found: MisspeltSetting[] = [];
  for (const name of given) {
    if (known.includes(name)) continue;
    const upper = name.toUpperCase();
    const prefix = OWN_PREFIXES.find((p) => upper.startsWith(p));
    const candidates = prefix ? known.filter((setting) => setting.startsWith(prefix)) : known;
    const nearest = candidates.map((setting) => ({ setting, edits: editDistance(upper, setting) })).reduce((best, next) => (next.edits < best.edits ? next : best));
    if (prefix || nearest.edits <= MAX_EDITS) found.push({ given: name, meant: nearest.setting, where });
  }
  return found;
}

/** Edits (insert, delete, replace, swap of neighbours) that turn `a` into `b` (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
