import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors';
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
export const positiveNumber = (name: string, v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new ConfigError(name, `must be a positive number, got '${v}'`);
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
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ConfigError(name, `must be an http(s) URL, got '${v}'`);
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
      throw new ConfigError(name, `'${SYSTEM_STORE}' (the host's trust store) needs Node.js ${SYSTEM_STORE_NODE} or later, this is ${process.version}: upgrade Node.js, or set it to the CA's PEM file`);
    }
    return v;
  }
  let text: string;
  try {
    text = readFileSync(v, 'utf8');
  } catch (e) {
    throw new ConfigError(name, `cannot read '${v}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
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
export const host = (name: string, v: string): string => {
  if (!/^[A-Za-z0-9.\-:[\]]+$/.test(v)) throw new ConfigError(name, `must be a host name or IP address, got '${v}'`);
  return v;
};
export const sha256Fingerprint = (name: string, v: string): string => {
  const hex = v.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new ConfigError(name, 'must be a SHA-256 fingerprint (64 hex digits, colons allowed)');
  return hex;
};
export const operation = (name: string, v: string): string => {
  const op = v.replace(/^\/+/, '');
  if (!op || /\s/.test(op)) throw new ConfigError(name, `must be an operation path such as synchronize_async?fullSync=true, got '${v}'`);
  return op;
};
export const httpMethod = (name: string, v: string): string => {
  const m = v.trim().toUpperCase();
  if (!['GET', 'POST', 'PUT'].includes(m)) throw new ConfigError(name, `must be GET, POST or PUT, got '${v}'`);
  return m;
};
export const interval = (name: string, v: string): 'auto' | number => {
  if (v.trim().toLowerCase() === 'auto') return 'auto';
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new ConfigError(name, `must be 'auto' or a number of seconds (0 or more), got '${v}'`);
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
