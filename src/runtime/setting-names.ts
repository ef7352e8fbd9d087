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
    // Names longer or shorter by more than MAX_EDITS are more edits away than that, and the measuring
    // stops past MAX_EDITS: measuring in full against every variable of the environment would be a
    // noticeable share of every cron run's start.
    const candidates = prefix
      ? known.filter((setting) => setting.startsWith(prefix))
      : known.filter((setting) => Math.abs(setting.length - upper.length) <= MAX_EDITS);
    if (!candidates.length) continue;
    const limit = prefix ? Infinity : MAX_EDITS;
    const nearest = candidates
      .map((setting) => ({ setting, edits: editDistance(upper, setting, limit) }))
      .reduce((best, next) => (next.edits < best.edits ? next : best));
    if (prefix || nearest.edits <= MAX_EDITS) found.push({ given: name, meant: nearest.setting, where });
  }
  return found;
}

/**
 * Edits (insert, delete, replace, swap of neighbours) that turn `a` into `b` (optimal string alignment);
 * once every way is past `limit`, just `limit + 1`.
 */
export function editDistance(a: string, b: string, limit = Infinity): number {
  // Three rows of the table are all it reads: a table of arrays per pair cost most of the check's time.
  let before = new Uint16Array(b.length + 1);
  let previous = new Uint16Array(b.length + 1);
  let row = new Uint16Array(b.length + 1);
  for (let j = 0; j <= b.length; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    let least = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let edits = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) edits = Math.min(edits, before[j - 2] + 1);
      row[j] = edits;
      if (edits < least) least = edits;
    }
    // A row's least value never falls further down the table.
    if (least > limit) return limit + 1;
    const oldest = before;
    before = previous;
    previous = row;
    row = oldest;
  }
  return Math.min(previous[b.length], limit + 1);
}
