import { X509Certificate } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { ConfigError } from '../errors';
import { cannotOpen, readInputFile } from './own-files';
import { canReadSystemStore, SYSTEM_STORE, SYSTEM_STORE_NODE } from '../http/trust';

/**
 * The parsers of the settings table in config.ts. Each takes the name to blame (the variable, and the
 * flag when a flag set it) and the raw text, and returns the value or throws a ConfigError that names it.
 */
export type Parser<T> = (name: string, value: string) => T;

export const positiveInt = (name: string, v: string): number => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
    throw new ConfigError(name, `must be a positive whole number, got '${v}'`);
  }
  return Number(v);
};
export const nonNegativeInt = (name: string, v: string): number => {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new ConfigError(name, `must be a whole number of 0 or more, got '${v}'`);
  }
  return Number(v);
};
/**
 * Numbers are plain decimals as people write them: JavaScript's Number() would also take `0x10`,
 * `1e20` and `Infinity`, values nobody means for a setting and some too large for a date or a timer.
 */
const DECIMAL = /^\d+(\.\d+)?$/;
export const positiveNumber = (name: string, v: string): number => {
  const n = Number(v);
  if (!DECIMAL.test(v) || !Number.isFinite(n) || n <= 0)
    throw new ConfigError(name, `must be a positive decimal number, got '${v}'`);
  return n;
};
/** Seconds as the operator writes them, in milliseconds as the code uses them. */
export const secondsAsMs = (name: string, v: string): number => positiveNumber(name, v) * 1000;
/** More tenants at once than this is no longer concurrency but a flood of the controller. */
const MAX_CONCURRENCY = 256;
export const concurrency = (name: string, v: string): number => {
  const n = positiveInt(name, v);
  if (n > MAX_CONCURRENCY) throw new ConfigError(name, `must be at most ${MAX_CONCURRENCY}, got '${v}'`);
  return n;
};
export const boolean = (name: string, v: string): boolean => {
  const s = v.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
  throw new ConfigError(name, `must be true or false, got '${v}'`);
};
export const port = (name: string, v: string): number => {
  const n = positiveInt(name, v);
  if (n > 65535) throw new ConfigError(name, `must be a TCP port from 1 to 65535, got '${v}'`);
  return n;
};
export const httpUrl = (name: string, v: string): string => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, `must be an http(s) URL, got '${v}'`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new ConfigError(name, `must be an http(s) URL, got '${v}'`);
  if (u.username || u.password) throw new ConfigError(name, 'must not carry credentials');
  return u.toString();
};
/** Node's timers hold at most 2^31-1 ms; a longer timeout silently becomes 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
export const milliseconds = (name: string, v: string): number => {
  const n = positiveInt(name, v);
  if (n > MAX_TIMER_MS) throw new ConfigError(name, `must be at most ${MAX_TIMER_MS} ms (about 24 days), got '${v}'`);
  return n;
};
/**
 * A CA file must hold PEM certificates: Node ignores anything else there, and the refusal would blame
 * the controller. `system` is the host's trust store instead, where this Node.js can read it.
 */
export const caFile = (name: string, v: string): string => {
  if (v === SYSTEM_STORE) {
    if (!canReadSystemStore()) {
      throw new ConfigError(
        name,
        `'${SYSTEM_STORE}' (the host's trust store) needs Node.js ${SYSTEM_STORE_NODE} or later, this is ${process.version}: upgrade Node.js, or set it to the CA's PEM file`,
      );
    }
    return v;
  }
  let text: string;
  try {
    text = readInputFile(v).toString('utf8');
  } catch (e) {
    throw cannotOpen(name, `cannot read '${v}'`, e);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(name, `'${v}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      throw new ConfigError(name, `certificate ${i + 1} in '${v}' is damaged`);
    }
  }
  return v;
};
/** A host name, an IPv4 address, or an IPv6 address (bracketed or not); the port has a setting of its own. */
export const host = (name: string, v: string): string => {
  if (v.includes(':')) {
    if (isIPv6(v.replace(/^\[(.*)\]$/, '$1'))) return v;
    const port = /^([^:]+):(\d+)$/.exec(v);
    if (port)
      throw new ConfigError(
        name,
        `must be a host name or IP address without a port, got '${v}': set it to ${port[1]} and the port in OA_PORT`,
      );
  }
  if (!/^[A-Za-z0-9.-]+$/.test(v)) throw new ConfigError(name, `must be a host name or IP address, got '${v}'`);
  return v;
};
export const sha256Fingerprint = (name: string, v: string): string => {
  const hex = v.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new ConfigError(name, 'must be a SHA-256 fingerprint (64 hex digits, colons allowed)');
  return hex;
};
/**
 * A path below `/aps/2/resources/<tenant>/`: the token goes with it, so it must not be able to leave the
 * tenant, by a scheme, a leading slash, or a `.`/`..` segment (also percent-encoded) that URL resolution
 * would climb out with.
 */
export const operation = (name: string, v: string): string => {
  if (!v || /[\s\\]/.test(v))
    throw new ConfigError(name, `must be an operation path such as synchronize_async?fullSync=true, got '${v}'`);
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(v))
    throw new ConfigError(name, `must be a path below the tenant, not a URL, got '${v}'`);
  if (v.startsWith('/'))
    throw new ConfigError(name, `must be a path below the tenant, without a leading '/', got '${v}'`);
  const segments = v.split(/[?#]/)[0].split('/');
  if (segments.some((segment) => ['.', '..'].includes(decodedSegment(segment))))
    throw new ConfigError(name, `must stay below the tenant: no '.' or '..' segments, got '${v}'`);
  return v;
};
/** A segment as URL resolution reads it; a malformed escape counts as a climb, so it is refused too. */
function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return '..';
  }
}
export const httpMethod = (name: string, v: string): string => {
  const m = v.trim().toUpperCase();
  if (!['GET', 'POST', 'PUT'].includes(m)) throw new ConfigError(name, `must be GET, POST or PUT, got '${v}'`);
  return m;
};
/** A pass less often than yearly is no schedule; the bound keeps every due time a valid date. */
const MAX_INTERVAL_SECONDS = 366 * 24 * 3600;
export const interval = (name: string, v: string): 'auto' | number => {
  if (v.trim().toLowerCase() === 'auto') return 'auto';
  const n = Number(v);
  if (!DECIMAL.test(v) || n > MAX_INTERVAL_SECONDS) {
    throw new ConfigError(
      name,
      `must be 'auto' or a decimal number of seconds from 0 to ${MAX_INTERVAL_SECONDS} (366 days), got '${v}'`,
    );
  }
  return n;
};
export const text = (name: string, v: string): string => {
  if (!v.trim()) throw new ConfigError(name, 'must not be empty');
  return v;
};
/** pino's levels: an unknown one would otherwise stop the run with pino's own error instead of this one line. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const logLevel = (name: string, v: string): string => {
  const level = v.trim().toLowerCase();
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(name, `must be one of ${LOG_LEVELS.join(', ')}, got '${v}'`);
  return level;
};
