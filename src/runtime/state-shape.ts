/**
 * The shapes of the files in STATE_DIR, checked field by field when they are read. Anything can be in
 * a file: a half-written one, a hand edit, another version's, a stray `null`. A file that is not
 * exactly the shape the tool writes is damaged state, and its reader says so (a warning naming the
 * file) and goes on without it, so no value read from a file can crash a run or a `status` later, or
 * schedule the next pass in another century.
 *
 * One small layer of checks rather than a validator library: a run that is not due reads
 * last-pass.json and exits, and its start-up should not pay for loading a schema library.
 *
 * Bounds: a duration is finite, at least 0, and at most MAX_DURATION_MS; a time parses as an ISO
 * date between MIN_TIME and MAX_TIME; a count is a whole number from 0 to Number.MAX_SAFE_INTEGER.
 * Fields the tool does not write are ignored.
 */

/** The longest duration a state file may hold: a month: a pass that worked longer is not one this tool ran. */
export const MAX_DURATION_MS = 31 * 24 * 3600 * 1000;
const MIN_TIME = Date.parse('2000-01-01T00:00:00Z');
const MAX_TIME = Date.parse('2100-01-01T00:00:00Z');

/** Checks `value`, found at `at` in the file, and returns it typed; throws ShapeError otherwise. */
export type Check<T> = (value: unknown, at: string) => T;

class ShapeError extends Error {}

const wrong = (at: string, what: string): never => {
  throw new ShapeError(`${at} ${what}`);
};

export const text: Check<string> = (v, at) => (typeof v === 'string' ? v : wrong(at, 'is not a string'));

export const flag: Check<boolean> = (v, at) => (typeof v === 'boolean' ? v : wrong(at, 'is not true or false'));

/** A finite number: a remote's value passed on as it was (a tenant's lastSync). */
export const finite: Check<number> = (v, at) =>
  typeof v === 'number' && Number.isFinite(v) ? v : wrong(at, 'is not a finite number');

/** A whole number from `min` (0 by default) up to Number.MAX_SAFE_INTEGER: a count, an id, a place. */
export const whole =
  (min = 0): Check<number> =>
  (v, at) =>
    Number.isSafeInteger(v) && (v as number) >= min ? (v as number) : wrong(at, `is not a whole number from ${min}`);

export const count = whole(0);

export const durationMs: Check<number> = (v, at) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_DURATION_MS
    ? v
    : wrong(at, `is not a duration from 0 to ${MAX_DURATION_MS} ms`);

/** An ISO time, kept as the string the file holds. */
export const time: Check<string> = (v, at) => {
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  return ms >= MIN_TIME && ms <= MAX_TIME ? (v as string) : wrong(at, 'is not a time between 2000 and 2100');
};

export const exactly =
  <T extends string | number>(expected: T): Check<T> =>
  (v, at) =>
    v === expected ? expected : wrong(at, `is not ${JSON.stringify(expected)}`);

export const oneOf =
  <T extends string>(values: readonly T[]): Check<T> =>
  (v, at) =>
    values.includes(v as T) ? (v as T) : wrong(at, `is not one of ${values.join(', ')}`);

export const listOf =
  <T>(item: Check<T>): Check<T[]> =>
  (v, at) =>
    Array.isArray(v) ? v.map((x, i) => item(x, `${at}[${i}]`)) : wrong(at, 'is not a list');

/** An object whose keys are instance ids. */
export const byInstance =
  <T>(item: Check<T>): Check<Record<string, T>> =>
  (v, at) => {
    if (!isObject(v)) return wrong(at, 'is not an object');
    const out: Record<string, T> = {};
    for (const [key, x] of Object.entries(v)) {
      whole(1)(Number(key), `${at} key ${key}`);
      out[key] = item(x, `${at}.${key}`);
    }
    return out;
  };

type Fields<T> = { [K in keyof T]-?: Check<T[K]> };

/**
 * An object with these fields. A field whose check accepts undefined (see `optional`) may be absent;
 * absent optional fields stay absent in the result.
 */
export const shape =
  <T extends object>(fields: Fields<T>): Check<T> =>
  (v, at) => {
    if (!isObject(v)) return wrong(at, 'is not an object');
    const out: Record<string, unknown> = {};
    for (const [key, check] of Object.entries(fields) as [string, Check<unknown>][]) {
      const value = check(v[key], `${at}.${key}`);
      if (value !== undefined) out[key] = value;
    }
    return out as T;
  };

export const optional =
  <T>(check: Check<T>): Check<T | undefined> =>
  (v, at) =>
    v === undefined ? undefined : check(v, at);

export const orNull =
  <T>(check: Check<T>): Check<T | null> =>
  (v, at) =>
    v === null ? null : check(v, at);

/** The value `json` holds if it has the shape, else why not (for a warning naming the file). */
export function readShape<T>(json: string, check: Check<T>): { value: T } | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return { problem: 'is not JSON' };
  }
  return checkShape(parsed, check);
}

/** `value` if it has the shape, else why not. */
export function checkShape<T>(value: unknown, check: Check<T>): { value: T } | { problem: string } {
  try {
    return { value: check(value, 'its content') };
  } catch (e) {
    if (e instanceof ShapeError) return { problem: e.message };
    throw e;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
