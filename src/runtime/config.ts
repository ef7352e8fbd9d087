import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { parse as parseEnvFile } from 'dotenv';
import { ConfigError } from '../errors';

/**
 * Settings come from an env file, then the real environment, then command-line flags, each layer
 * winning over the one before. Everything is validated here, before any network call, so a bad value
 * costs the operator one line on stderr and exit 2, never a half-done pass.
 */
export interface Config {
  officeAppId: number;
  oaHost: string;
  oaPort: number;
  oaUser?: string;
  oaPassword?: string;
  oaTls: boolean;
  oaCaFile?: string;
  apsUrl?: string;
  apsCaFile?: string;
  apsTlsInsecure: boolean;
  apsCertSha256?: string;
  tenantType: string;
  resyncOperation: string;
  resyncMethod: string;
  pageSize: number;
  tokenRefreshEvery: number;
  tokenMaxAgeMs: number;
  concurrency: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  retries: number;
  retryMaxDelayMs: number;
  maxConsecutiveFailures: number;
  maxBodyBytes: number;
  minIntervalSeconds: 'auto' | number;
  logDir: string;
  stateDir: string;
  metricsFile?: string;
  /** The env file that was read, if any, and whether others than its owner can read it. */
  envFile?: { path: string; readableByOthers: boolean };
}

type Raw = Record<string, string | undefined>;

const positiveInt = (name: string, v: string): number => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
    throw new ConfigError(name, `must be a positive whole number, got '${v}'`);
  }
  return Number(v);
};
const nonNegativeInt = (name: string, v: string): number => {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new ConfigError(name, `must be a whole number of 0 or more, got '${v}'`);
  }
  return Number(v);
};
const positiveNumber = (name: string, v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new ConfigError(name, `must be a positive number, got '${v}'`);
  return n;
};
const boolean = (name: string, v: string): boolean => {
  const s = v.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
  throw new ConfigError(name, `must be true or false, got '${v}'`);
};
const port = (name: string, v: string): number => {
  const n = positiveInt(name, v);
  if (n > 65535) throw new ConfigError(name, `must be a TCP port from 1 to 65535, got '${v}'`);
  return n;
};
const httpUrl = (name: string, v: string): string => {
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
const milliseconds = (name: string, v: string): number => {
  const n = positiveInt(name, v);
  if (n > MAX_TIMER_MS) throw new ConfigError(name, `must be at most ${MAX_TIMER_MS} ms (about 24 days), got '${v}'`);
  return n;
};
/** A CA file must hold PEM certificates: Node ignores anything else there, and the refusal would blame the controller. */
const caFile = (name: string, v: string): string => {
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
const host = (name: string, v: string): string => {
  if (!/^[A-Za-z0-9.\-:[\]]+$/.test(v)) throw new ConfigError(name, `must be a host name or IP address, got '${v}'`);
  return v;
};
const sha256Fingerprint = (name: string, v: string): string => {
  const hex = v.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new ConfigError(name, 'must be a SHA-256 fingerprint (64 hex digits, colons allowed)');
  return hex;
};
const operation = (name: string, v: string): string => {
  const op = v.replace(/^\/+/, '');
  if (!op || /\s/.test(op)) throw new ConfigError(name, `must be an operation path such as synchronize_async?fullSync=true, got '${v}'`);
  return op;
};
const httpMethod = (name: string, v: string): string => {
  const m = v.trim().toUpperCase();
  if (!['GET', 'POST', 'PUT'].includes(m)) throw new ConfigError(name, `must be GET, POST or PUT, got '${v}'`);
  return m;
};
const interval = (name: string, v: string): 'auto' | number => {
  if (v.trim().toLowerCase() === 'auto') return 'auto';
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new ConfigError(name, `must be 'auto' or a number of seconds (0 or more), got '${v}'`);
  return n;
};
const text = (name: string, v: string): string => {
  if (!v.trim()) throw new ConfigError(name, 'must not be empty');
  return v;
};

/** The command-line flags that override a variable, so errors can name both. */
export const FLAG_FOR_VARIABLE: Record<string, string> = {
  SYNC_CONCURRENCY: '--concurrency',
  METRICS_FILE: '--metrics-file',
  LOG_DIR: '--log-dir',
  STATE_DIR: '--state-dir',
};

/** The settings of this host's own files, all `status` reads: it must work without OA's settings. */
export type LocalConfig = Pick<Config, 'minIntervalSeconds' | 'logDir' | 'stateDir' | 'metricsFile' | 'envFile'>;

export interface LoadOptions {
  envFile?: string;
  env?: Raw;
  flags?: Raw;
  cwd?: string;
  /** 'local': read and check only the LocalConfig settings. */
  scope?: 'local';
}

export function loadConfig(options: LoadOptions & { scope: 'local' }): LocalConfig;
export function loadConfig(options?: LoadOptions): Config;
export function loadConfig(options: LoadOptions = {}): Config | LocalConfig {
  const { fileValues, envFile } = readEnvFile(options.envFile, options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const flags = options.flags ?? {};
  // An empty value is no value: `RETRIES=` in the environment leaves the env file's RETRIES in force.
  const pick = (name: string): string | undefined => [flags[name], env[name], fileValues[name]].find((v) => v !== undefined && v !== '');
  const label = (name: string): string => (flags[name] !== undefined && FLAG_FOR_VARIABLE[name] ? `${name} (${FLAG_FOR_VARIABLE[name]})` : name);
  function get<T>(name: string, parse: (n: string, v: string) => T): T | undefined;
  function get<T>(name: string, parse: (n: string, v: string) => T, fallback: string): T;
  function get<T>(name: string, parse: (n: string, v: string) => T, fallback?: string): T | undefined {
    const v = pick(name) ?? fallback;
    return v === undefined ? undefined : parse(label(name), v);
  }
  const required = <T>(name: string, parse: (n: string, v: string) => T): T => {
    const v = get(name, parse);
    if (v === undefined) throw new ConfigError(name, 'is required but not set (see config.example.env)');
    return v;
  };

  const local: LocalConfig = {
    minIntervalSeconds: get('SYNC_MIN_INTERVAL', interval, 'auto'),
    logDir: get('LOG_DIR', text, '/var/log/sync'),
    stateDir: get('STATE_DIR', text, '/var/lib/o365-backsync'),
    metricsFile: get('METRICS_FILE', text),
    envFile,
  };
  if (options.scope === 'local') return local;

  const oaUser = get('OA_USER', text);
  const oaPassword = get('OA_PASSWORD', text);
  if ((oaUser === undefined) !== (oaPassword === undefined)) {
    throw new ConfigError(oaUser === undefined ? 'OA_USER' : 'OA_PASSWORD', 'OA_USER and OA_PASSWORD must be set together');
  }
  const apsTlsInsecure = get('APS_TLS_INSECURE', boolean, 'false');
  const config: Config = {
    officeAppId: required('OFFICE_APP_ID', positiveInt),
    oaHost: required('OA_HOST', host),
    oaPort: get('OA_PORT', port, '8440'),
    oaUser,
    oaPassword,
    oaTls: get('OA_TLS', boolean, 'false'),
    oaCaFile: get('OA_CA_FILE', caFile),
    apsUrl: get('APS_URL', httpUrl),
    apsCaFile: get('APS_CA_FILE', caFile),
    apsTlsInsecure,
    apsCertSha256: get('APS_CERT_SHA256', sha256Fingerprint),
    tenantType: get('APS_TENANT_TYPE', text, 'http://www.parallels.com/Office365/Tenant/2.0'),
    resyncOperation: get('APS_RESYNC_OPERATION', operation, 'synchronize_async?fullSync=true'),
    resyncMethod: get('APS_RESYNC_METHOD', httpMethod, 'GET'),
    pageSize: get('APS_PAGE_SIZE', positiveInt, '500'),
    tokenRefreshEvery: get('TOKEN_REFRESH_EVERY', positiveInt, '100'),
    tokenMaxAgeMs: get('APS_TOKEN_MAX_AGE', positiveNumber, '1500') * 1000,
    concurrency: get('SYNC_CONCURRENCY', positiveInt, '4'),
    requestTimeoutMs: get('REQUEST_TIMEOUT_MS', milliseconds, '60000'),
    connectTimeoutMs: get('CONNECT_TIMEOUT_MS', milliseconds, '10000'),
    retries: get('RETRIES', nonNegativeInt, '3'),
    retryMaxDelayMs: get('RETRY_MAX_DELAY_MS', milliseconds, '30000'),
    maxConsecutiveFailures: get('MAX_CONSECUTIVE_FAILURES', positiveInt, '20'),
    maxBodyBytes: get('MAX_REPLY_BYTES', positiveInt, String(16 * 1024 * 1024)),
    ...local,
  };
  if (config.concurrency > 256) throw new ConfigError(label('SYNC_CONCURRENCY'), `must be at most 256, got '${config.concurrency}'`);
  if (config.apsTlsInsecure && config.apsCertSha256) {
    throw new ConfigError('APS_TLS_INSECURE', 'cannot be combined with APS_CERT_SHA256 (a pinned certificate is verified)');
  }
  return config;
}

function readEnvFile(explicit: string | undefined, cwd: string): { fileValues: Raw; envFile?: Config['envFile'] } {
  const candidates = explicit ? [explicit] : [`${cwd}/.env`, '/etc/o365-backsync.env'];
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    if (explicit) throw new ConfigError('--env-file', `cannot read '${explicit}': ENOENT`);
    return { fileValues: {} };
  }
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('--env-file', `cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return { fileValues: parseEnvFile(content), envFile: { path, readableByOthers: (statSync(path).mode & 0o077) !== 0 } };
}
