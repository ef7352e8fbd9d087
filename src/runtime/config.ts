import { ConfigError } from '../errors';
import * as parse from './config-parsers';
import type { Parser } from './config-parsers';
import { readEnvFile, type EnvFile } from './env-file';
import { misspeltSettings, type MisspeltSetting } from './setting-names';

interface Setting<T> {
  variable: string;
  /** The command-line flag that overrides the variable, so errors can name both. */
  flag?: string;
  /** The value used when the variable is unset, written as an operator would write it. */
  default?: string;
  /** Without a default: 'required', or what an unset variable means (the README shows it). */
  unset?: string;
  parse: Parser<T>;
  /** One line for the README's settings table. */
  meaning: string;
  /** A setting of this host's own files, which `status` reads too. */
  local?: true;
  /** An empty value switches the feature off, instead of leaving the layers below in force. */
  emptySwitchesOff?: true;
}

/**
 * Every setting, once: its variable, flag, default, parser and meaning. `Config` is derived from this
 * table, loadConfig reads it, and a test holds the README's table and config.example.env to it.
 */
export const SETTINGS = {
  officeAppId: {
    variable: 'OFFICE_APP_ID',
    unset: 'required',
    parse: parse.positiveInt,
    meaning: 'application ID of the Office 365 APS application (not an instance ID)',
  },
  oaHost: {
    variable: 'OA_HOST',
    unset: 'required',
    parse: parse.host,
    meaning: 'BackNet IP or host name of the OA management node',
  },
  oaPort: { variable: 'OA_PORT', default: '8440', parse: parse.port, meaning: 'OA Public API port' },
  oaUser: {
    variable: 'OA_USER',
    parse: parse.text,
    meaning: 'HTTP basic auth user for the OA Public API, when enabled there (set with `OA_PASSWORD`)',
  },
  oaPassword: { variable: 'OA_PASSWORD', parse: parse.text, meaning: 'its password (set with `OA_USER`)' },
  oaTls: { variable: 'OA_TLS', default: 'false', parse: parse.boolean, meaning: 'https for the OA Public API' },
  oaCaFile: {
    variable: 'OA_CA_FILE',
    parse: parse.caFile,
    meaning: "PEM file of the CA that issued the OA Public API certificate, or `system` for the host's trust store",
  },
  apsUrl: {
    variable: 'APS_URL',
    unset: '`controller_uri` from the token reply, else `https://OA_HOST:6308`',
    parse: parse.httpUrl,
    meaning: 'APS controller base URL',
  },
  apsCaFile: {
    variable: 'APS_CA_FILE',
    parse: parse.caFile,
    meaning: "PEM file of the CA that issued the controller's certificate, or `system` for the host's trust store",
  },
  apsCertSha256: {
    variable: 'APS_CERT_SHA256',
    parse: parse.sha256Fingerprint,
    meaning:
      "pin the controller certificate's SHA-256 fingerprint; enough on its own, and with `APS_CA_FILE` both must hold",
  },
  apsTlsInsecure: {
    variable: 'APS_TLS_INSECURE',
    default: 'false',
    parse: parse.boolean,
    meaning: 'do not verify the controller certificate (logs a warning every run)',
  },
  tenantType: {
    variable: 'APS_TENANT_TYPE',
    unset: 'found in the types library (see "Tenant type")',
    parse: parse.text,
    meaning:
      'APS type of tenant resources, e.g. `http://www.parallels.com/Office365/Tenant/2.8`; set, only that type is walked',
  },
  resyncOperation: {
    variable: 'APS_RESYNC_OPERATION',
    default: 'synchronize_async?fullSync=true',
    parse: parse.operation,
    meaning: 'tenant operation (path and query), called as `/aps/2/resources/<tenant>/<operation>`',
  },
  resyncMethod: {
    variable: 'APS_RESYNC_METHOD',
    default: 'GET',
    parse: parse.httpMethod,
    meaning: 'HTTP method of that operation',
  },
  syncStatusOperation: {
    variable: 'APS_SYNC_STATUS_OPERATION',
    default: 'sync_status',
    parse: parse.operation,
    emptySwitchesOff: true,
    meaning:
      'tenant operation read (GET) before each resync for `{inProgress, lastSync}`; empty switches the read off (see "Sync status")',
  },
  pageSize: {
    variable: 'APS_PAGE_SIZE',
    default: '500',
    parse: parse.positiveInt,
    meaning: 'tenants asked for per listing page (the controller may send fewer)',
  },
  tokenRefreshEvery: {
    variable: 'TOKEN_REFRESH_EVERY',
    default: '100',
    parse: parse.positiveInt,
    meaning: "renew an instance's token after this many tenants",
  },
  tokenMaxAgeMs: {
    variable: 'APS_TOKEN_MAX_AGE',
    default: '1500',
    parse: parse.secondsAsMs,
    meaning: 'seconds; renew a token once it is this old (tokens expire after 30 minutes)',
  },
  concurrency: {
    variable: 'SYNC_CONCURRENCY',
    flag: '--concurrency',
    default: '4',
    parse: parse.concurrency,
    meaning: 'tenants resynced at once, at most 256',
  },
  requestTimeoutMs: {
    variable: 'REQUEST_TIMEOUT_MS',
    default: '60000',
    parse: parse.milliseconds,
    meaning:
      'bound on any single request, body included, plus up to a tenth of it (at most 100 ms) for requests sharing one deadline',
  },
  connectTimeoutMs: {
    variable: 'CONNECT_TIMEOUT_MS',
    default: '10000',
    parse: parse.milliseconds,
    meaning: 'bound on connecting, TLS handshake included',
  },
  retries: {
    variable: 'RETRIES',
    default: '3',
    parse: parse.nonNegativeInt,
    meaning: 'retries of network errors, timeouts, 429/502/503/504 (exponential backoff, full jitter)',
  },
  retryMaxDelayMs: {
    variable: 'RETRY_MAX_DELAY_MS',
    default: '30000',
    parse: parse.milliseconds,
    meaning: 'longest wait before a retry; Retry-After is honoured up to it',
  },
  maxConsecutiveFailures: {
    variable: 'MAX_CONSECUTIVE_FAILURES',
    default: '20',
    parse: parse.positiveInt,
    meaning: 'stop the pass (and resume next run) after this many failures in a row that are not about one tenant',
  },
  maxBodyBytes: {
    variable: 'MAX_REPLY_BYTES',
    default: '16777216',
    parse: parse.positiveInt,
    meaning: 'largest reply accepted from OA or the controller, in bytes',
  },
  minIntervalSeconds: {
    variable: 'SYNC_MIN_INTERVAL',
    default: 'auto',
    parse: parse.interval,
    meaning: 'when a full pass is due: `auto`, seconds, or 0 (see "Running from cron")',
    local: true,
  },
  logDir: {
    variable: 'LOG_DIR',
    flag: '--log-dir',
    default: '/var/log/sync',
    parse: parse.text,
    meaning:
      'where the JSON log file goes; `-` writes the log to stdout instead, one JSON object a line (containers, journald)',
    local: true,
  },
  stateDir: {
    variable: 'STATE_DIR',
    flag: '--state-dir',
    default: '/var/lib/o365-backsync',
    parse: parse.text,
    meaning: 'lock and state files',
    local: true,
  },
  metricsFile: {
    variable: 'METRICS_FILE',
    flag: '--metrics-file',
    parse: parse.text,
    meaning: 'Prometheus textfile-collector metrics, written after each run',
    local: true,
  },
  traceMaxEntries: {
    variable: 'TRACE_MAX_ENTRIES',
    default: '10000',
    parse: parse.positiveInt,
    meaning: 'exchanges a `--trace` file keeps; later ones are only counted in it',
  },
  logLevel: {
    variable: 'LOG_LEVEL',
    default: 'info',
    parse: parse.logLevel,
    meaning: '`debug` adds token renewals and retries to the log',
  },
} as const satisfies Record<string, Setting<unknown>>;

type Settings = typeof SETTINGS;
type ValueOf<S> = S extends Setting<infer T> ? T : never;
/** The settings that always have a value: a default, or required, and not switched off. The others may be unset. */
type AlwaysSetKey = {
  [K in keyof Settings]: Settings[K] extends { emptySwitchesOff: true }
    ? never
    : Settings[K] extends { default: string } | { unset: 'required' }
      ? K
      : never;
}[keyof Settings];

/**
 * Settings come from an env file, then the real environment, then command-line flags, each layer
 * winning over the one before. Everything is validated here, before any network call, so a bad value
 * costs the operator one line on stderr and exit 2, never a half-done pass.
 */
export type Config = { [K in AlwaysSetKey]: ValueOf<Settings[K]> } & {
  [K in Exclude<keyof Settings, AlwaysSetKey>]?: ValueOf<Settings[K]>;
} & {
  /**
   * The env file that was read, if any, whether others than its owner and the run's group can read
   * it, and the variables whose unquoted value dotenv cut at a `#`.
   */
  envFile?: EnvFile;
  /** Variables that look like a misspelt setting, each with the one it likely meant; absent when none. */
  misspelt?: MisspeltSetting[];
};

type LocalKey = { [K in keyof Settings]: Settings[K] extends { local: true } ? K : never }[keyof Settings];
/**
 * The settings of this host's own files, all `status` reads: it must work without OA's settings. The
 * settings a resume depends on are read leniently: null where set to a value `sync` would refuse (or,
 * for a required one, not set), so that `status` can say it cannot tell.
 */
export type LocalConfig = Pick<Config, LocalKey | 'envFile' | 'misspelt'> & {
  [K in ResumeKey]?: Config[K] | null;
};
/** Whether an unfinished pass is resumed depends on these; `status` reads them leniently (see loadConfig). */
const RESUME_KEYS = ['officeAppId', 'tenantType'] as const;
type ResumeKey = (typeof RESUME_KEYS)[number];

type Raw = Record<string, string | undefined>;

export interface LoadOptions {
  envFile?: string;
  env?: Raw;
  /** Values given by command-line flags, by variable name. */
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
  const known = Object.values(SETTINGS).map((setting) => setting.variable);
  const misspelt = [
    ...misspeltSettings(known, Object.keys(env), 'the environment'),
    ...(envFile ? misspeltSettings(known, Object.keys(fileValues), envFile.path) : []),
  ];
  const read = (setting: Setting<unknown>): unknown => {
    // An empty value is no value: `RETRIES=` in the environment leaves the env file's RETRIES in force,
    // unless that setting says empty switches it off.
    const layers = [flags[setting.variable], env[setting.variable], fileValues[setting.variable]];
    const given = setting.emptySwitchesOff
      ? layers.find((v) => v !== undefined)
      : layers.find((v) => v !== undefined && v !== '');
    if (setting.emptySwitchesOff && given?.trim() === '') return undefined;
    const value = given ?? setting.default;
    if (value === undefined) {
      if (setting.unset === 'required') throw new ConfigError(setting.variable, requiredButUnset(setting, misspelt));
      return undefined;
    }
    const byFlag = flags[setting.variable] !== undefined && setting.flag !== undefined;
    return setting.parse(byFlag ? `${setting.variable} (${setting.flag})` : setting.variable, value);
  };
  const entries = Object.entries(SETTINGS).filter(
    ([, setting]) => options.scope !== 'local' || ('local' in setting && setting.local),
  );
  const config = Object.fromEntries(entries.map(([key, setting]) => [key, read(setting)])) as Config;
  config.envFile = envFile;
  if (misspelt.length) config.misspelt = misspelt;
  if (options.scope === 'local') {
    // Set to a value `sync` would refuse, or required and not set: null, and `status` says it cannot
    // tell. An APS_TENANT_TYPE that is not set is a value of its own: the types are found at run time.
    const leniently = (setting: Setting<unknown>): unknown => {
      try {
        return read(setting);
      } catch {
        return null;
      }
    };
    for (const key of RESUME_KEYS) Object.assign(config, { [key]: leniently(SETTINGS[key]) });
    return config;
  }

  if ((config.oaUser === undefined) !== (config.oaPassword === undefined)) {
    throw new ConfigError(
      config.oaUser === undefined ? 'OA_USER' : 'OA_PASSWORD',
      'OA_USER and OA_PASSWORD must be set together',
    );
  }
  if (config.apsTlsInsecure && config.apsCertSha256) {
    throw new ConfigError(
      'APS_TLS_INSECURE',
      'cannot be combined with APS_CERT_SHA256 (a pinned certificate is verified)',
    );
  }
  return config;
}

/** A required setting that is not set, naming the variable that looks like it misspelt, if one is set. */
function requiredButUnset(setting: Setting<unknown>, misspelt: MisspeltSetting[]): string {
  const near = misspelt.find((m) => m.meant === setting.variable);
  return near
    ? `is required but not set, and ${near.given} (in ${near.where}) is: did you mean ${setting.variable}? Rename ${near.given} to ${setting.variable}`
    : 'is required but not set (see config.example.env)';
}

/** The platform's default token life (`saas.aps.security.token_validity_period`); see src/aps/README.md. */
const TOKEN_LIFE_SECONDS = 1800;

/**
 * Settings that work but are probably not what the operator meant: `sync` logs each once per run (so a
 * terminal shows it too) and `check` lists them.
 */
export function doubtfulSettings(config: Pick<Config, 'tokenMaxAgeMs' | 'misspelt' | 'envFile'>): string[] {
  const doubts = (config.misspelt ?? []).map(
    ({ given, meant, where }) => `${given} (in ${where}) is not a setting and is ignored; did you mean ${meant}?`,
  );
  for (const variable of config.envFile?.cutAtHash ?? [])
    doubts.push(
      `${variable} in ${config.envFile!.path} has an unquoted '#', where the value ends (the rest is read as a comment): quote the value, ${variable}="..."`,
    );
  if (config.tokenMaxAgeMs > TOKEN_LIFE_SECONDS * 1000) {
    doubts.push(
      `APS_TOKEN_MAX_AGE (${config.tokenMaxAgeMs / 1000}s) is above the ${TOKEN_LIFE_SECONDS}s a token lives by default: tokens may expire before they are renewed`,
    );
  }
  return doubts;
}

/** The settings an env file sets, by variable, as written there; empty values and unknown names left out. */
export function envFileSettings(path: string): Record<string, string> {
  const known = new Set<string>(Object.values(SETTINGS).map((setting) => setting.variable));
  return Object.fromEntries(
    Object.entries(readEnvFile(path, '/').fileValues).filter(
      (entry): entry is [string, string] => known.has(entry[0]) && entry[1] !== '' && entry[1] !== undefined,
    ),
  );
}
