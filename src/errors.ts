/**
 * Every failure the tool reports is one of these. Each has a stable `code` that logs and tests can
 * match on, and a message that carries the remote's own words. Secrets never enter a message:
 * callers build messages from replies and settings, never from headers or credentials.
 *
 * This is the one place that says what a failure is: each class states, once, whether it is worth
 * another try, whether it asks us to slow down, whether it is about one tenant or about the controller
 * or OA, whether the controller refused the token, and the exit code it ends a run with. The rest of
 * the tool reads those properties (through `traitsOf` for anything thrown) and never asks "which class".
 */
export type Remote = 'oa' | 'aps';

/** The exit codes cron, monitoring and operators rely on. */
export const EXIT = {
  /** Every tenant synced or skipped; also "another run is active" and "not due yet". */
  ok: 0,
  /** The pass finished but some tenants failed. */
  tenantsFailed: 1,
  /** Configuration or usage error. */
  usage: 2,
  /** OA or the APS controller could not be reached, or refused us. */
  unreachable: 3,
  /**
   * This host stops the run: a file of its own (log, journal, state, metrics) cannot be written (a full
   * disk, say), the open-files limit is reached, or the run lock is held by something else or for far too long.
   */
  ownFile: 4,
  /** A bug in this tool: the log has the stack. */
  internal: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export type ErrorCode =
  | 'OBS_ERR_CONFIG'
  | 'OBS_ERR_OA'
  | 'OBS_ERR_OA_FAULT'
  | 'OBS_ERR_OA_HTTP'
  | 'OBS_ERR_APS'
  | 'OBS_ERR_PROTOCOL'
  | 'OBS_ERR_BODY_TOO_LARGE'
  | 'OBS_ERR_NETWORK'
  | 'OBS_ERR_TLS'
  | 'OBS_ERR_CONTROLLER_DOWN'
  | 'OBS_ERR_OWN_FILE'
  | 'OBS_ERR_HOST'
  | 'OBS_ERR_TOKEN_RENEWAL';

/**
 * 'tenant': about the one tenant a call was for; the pass counts it and goes on. 'service': about the
 * controller, a proxy, the network or OA; too many in a row mean it is down. 'pass': the pass stops.
 * 'host': about this host, not any remote: the pass stops, and the failure is reported as it is.
 */
export type Scope = 'tenant' | 'service' | 'pass' | 'host';

/** What the rest of the tool asks of a failure. */
export interface ErrorTraits {
  /** Undefined for a failure that is not one of ours: a bug. */
  readonly code: ErrorCode | undefined;
  readonly exitCode: ExitCode;
  /** "Not now" rather than "no": worth another try after a pause. */
  readonly retryable: boolean;
  /** The remote says it has too much to do: run fewer requests at once. */
  readonly throttling: boolean;
  readonly scope: Scope;
  /** The controller refused the token: renew it and try once more. */
  readonly tokenRefused: boolean;
  /** The tenant no longer exists (removed since it was listed): skipped, not failed. */
  readonly tenantGone: boolean;
  /** No such operation (or resource): an older application's answer for an operation it predates. */
  readonly noSuchOperation?: boolean;
  /** The message itself names the setting that fixes it. */
  readonly namesFix: boolean;
  /** How long the remote asked us to wait before trying again (Retry-After). */
  readonly retryAfterMs?: number;
}

/** Anything else thrown is a bug in this tool: it fails the tenant it happened on, and a run with it exits 70. */
const BUG: ErrorTraits = {
  code: undefined,
  exitCode: EXIT.internal,
  retryable: false,
  throttling: false,
  scope: 'tenant',
  tokenRefused: false,
  tenantGone: false,
  namesFix: false,
};

export function traitsOf(e: unknown): ErrorTraits {
  return e instanceof BacksyncError ? e : (openFilesLimit(e) ?? BUG);
}

/** What each class states about itself: every trait, in its own definition. */
type OwnTraits = Required<Omit<ErrorTraits, 'retryAfterMs' | 'noSuchOperation'>> &
  Pick<ErrorTraits, 'noSuchOperation'> & { code: ErrorCode };

/** The traits most failures lack; a class spreads these and then states what it is. */
const PLAIN = { retryable: false, throttling: false, tokenRefused: false, tenantGone: false, namesFix: false } as const;

// The traits are the class's own readonly properties, assigned once from what each class states.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging -- the traits are declared by the interface and assigned by the constructor
export interface BacksyncError extends Readonly<OwnTraits> {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see the interface above
export abstract class BacksyncError extends Error implements ErrorTraits {
  constructor(traits: OwnTraits, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    Object.assign(this, traits);
  }
}

/**
 * The statuses that say "not now": overload (429, 503) and a proxy whose backend did not answer (502,
 * 504). Of those, 429 and 503 also say "too much": a proxy's 502 or 504 does not mean we sent too many.
 */
const RETRYABLE_STATUSES: readonly number[] = [429, 502, 503, 504];
const THROTTLING_STATUSES: readonly number[] = [429, 503];

/** A setting is missing or malformed; `variable` names it as the operator wrote it. */
export class ConfigError extends BacksyncError {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    // A wrong setting is wrong for every tenant alike.
    super(
      { ...PLAIN, code: 'OBS_ERR_CONFIG', exitCode: EXIT.usage, scope: 'service', namesFix: true },
      `${variable}: ${problem}`,
    );
  }
}

/**
 * OA answered `status: -1`. OA is reached mid-pass only to renew a token, so nothing it answers (here
 * and in the other OA errors) is ever one tenant's fault.
 */
export class OaError extends BacksyncError {
  constructor(
    readonly method: string,
    readonly errorMessage: string,
    readonly moduleId: string | undefined,
    readonly extypeId: number | undefined,
  ) {
    super(
      { ...PLAIN, code: 'OBS_ERR_OA', exitCode: EXIT.unreachable, scope: 'service' },
      `OA ${method} failed: ${errorMessage}${moduleId ? ` (module ${moduleId}, extype ${extypeId ?? '?'})` : ''}`,
    );
  }
}

/** OA answered with an XML-RPC fault (unknown method, broken request). */
export class OaFaultError extends BacksyncError {
  constructor(
    readonly method: string,
    readonly faultCode: number | undefined,
    readonly faultString: string,
  ) {
    super(
      { ...PLAIN, code: 'OBS_ERR_OA_FAULT', exitCode: EXIT.unreachable, scope: 'service' },
      `OA ${method} fault ${faultCode ?? '?'}: ${faultString}`,
    );
  }
}

/**
 * The OA Public API's web server answered with a non-200 status (basic auth, proxy). Basic auth is
 * optional per installation: missing credentials are answered 401, wrong ones 403 (401 from some web
 * servers), so both statuses name the settings to look at.
 */
export class OaHttpError extends BacksyncError {
  constructor(
    readonly status: number,
    detail: string,
    readonly retryAfterMs?: number,
    credentialsSent = false,
  ) {
    const refused = status === 401 || status === 403;
    const [retryable, throttling] = [RETRYABLE_STATUSES.includes(status), THROTTLING_STATUSES.includes(status)];
    super(
      {
        ...PLAIN,
        code: 'OBS_ERR_OA_HTTP',
        exitCode: EXIT.unreachable,
        retryable,
        throttling,
        scope: 'service',
        namesFix: refused,
      },
      `OA Public API answered HTTP ${status}${detail ? `: ${detail}` : ''}${refused ? `; ${credentialsFix(status, credentialsSent)}` : ''}`,
    );
  }
}

function credentialsFix(status: number, sent: boolean): string {
  if (sent) return 'OA refused OA_USER/OA_PASSWORD: check them';
  if (status === 401) return 'OA asks for HTTP basic auth: set OA_USER and OA_PASSWORD';
  return 'OA refused this host: set OA_USER and OA_PASSWORD if it asks for basic auth, or allow this host in its allowed networks';
}

/**
 * How the controller words a refused token, whatever the status that carries it (401 and 403 are
 * refusals in any words): "Authentication failed." (`APS::Hosting::Exception`) and "Unauthorized
 * request" (`APS::Util::Exception`), the latter also with its exception type in front of the message.
 */
const TOKEN_REFUSALS: readonly string[] = ['Authentication failed.', 'Unauthorized request'];
const EXCEPTION_TYPE_PREFIX = /^[A-Za-z]\w*(?:::\w+)+:\s*/;

/** The APS controller answered with an error status. */
export class ApsError extends BacksyncError {
  constructor(
    readonly status: number,
    readonly remoteMessage: string,
    readonly remoteType: string | undefined,
    readonly retryAfterMs?: number,
  ) {
    const retryable = RETRYABLE_STATUSES.includes(status);
    super(
      {
        code: 'OBS_ERR_APS',
        exitCode: EXIT.unreachable,
        retryable,
        throttling: THROTTLING_STATUSES.includes(status),
        // Overload or a proxy is not the tenant's doing; any other answer is about the tenant asked for.
        scope: retryable ? 'service' : 'tenant',
        tokenRefused:
          status === 401 ||
          status === 403 ||
          TOKEN_REFUSALS.includes(remoteMessage.trim().replace(EXCEPTION_TYPE_PREFIX, '')),
        // A resource removed since it was listed answers 404.
        tenantGone: status === 404,
        noSuchOperation: [404, 405, 501].includes(status), // 404 is the likely form; 405 and 501 say the same
        namesFix: false,
      },
      `APS controller answered ${status}${remoteType ? ` ${remoteType}` : ''}: ${remoteMessage}`,
    );
  }
}

/** A reply that does not follow the protocol (bad XML, bad JSON, wrong shape, bad Content-Range). */
export class ProtocolError extends BacksyncError {
  constructor(
    readonly remote: Remote,
    message: string,
    options?: { cause?: unknown },
  ) {
    super({ ...PLAIN, code: 'OBS_ERR_PROTOCOL', exitCode: EXIT.unreachable, scope: scopeOf(remote) }, message, options);
  }
}

/** A reply larger than the limit we accept for it. */
export class BodyTooLargeError extends BacksyncError {
  constructor(
    readonly remote: Remote,
    readonly limitBytes: number,
    what: string,
    setting = 'MAX_REPLY_BYTES',
  ) {
    super(
      { ...PLAIN, code: 'OBS_ERR_BODY_TOO_LARGE', exitCode: EXIT.unreachable, scope: scopeOf(remote), namesFix: true },
      `${what} exceeded the ${limitBytes}-byte reply limit (${setting})`,
    );
  }
}

/** A bad reply from the controller is about the tenant it was for; one from OA never is. */
function scopeOf(remote: Remote): Scope {
  return remote === 'oa' ? 'service' : 'tenant';
}

/** No usable connection: refused, reset, DNS, or no answer in time. */
export class NetworkError extends BacksyncError {
  constructor(
    readonly remote: Remote,
    readonly url: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      { ...PLAIN, code: 'OBS_ERR_NETWORK', exitCode: EXIT.unreachable, retryable: true, scope: 'service' },
      `${remote === 'oa' ? 'OA Public API' : 'APS controller'} at ${url}: ${detail}`,
      options,
    );
  }
}

/** The peer's certificate was refused; the message names the setting that fixes it. */
export class TlsError extends BacksyncError {
  constructor(
    readonly remote: Remote,
    readonly url: string,
    detail: string,
    fix: string,
    options?: { cause?: unknown },
  ) {
    super(
      { ...PLAIN, code: 'OBS_ERR_TLS', exitCode: EXIT.unreachable, scope: 'service', namesFix: true },
      `certificate of ${url} not trusted: ${detail}; ${fix}`,
      options,
    );
  }
}

/**
 * Too many consecutive failures that were not about one tenant, or an instance that could not be
 * listed at all: the controller is down. `at` names that instance.
 */
export class ControllerDownError extends BacksyncError {
  constructor(
    readonly failures: number,
    readonly lastError: Error,
    at?: number,
  ) {
    super(
      { ...PLAIN, code: 'OBS_ERR_CONTROLLER_DOWN', exitCode: EXIT.unreachable, scope: 'service' },
      at === undefined
        ? `stopped after ${failures} consecutive controller failures; last: ${lastError.message}`
        : `stopped at instance ${at}: ${lastError.message}`,
    );
  }
}

/**
 * This host could not write one of the tool's own files. Neither a bug nor the remote's doing: the run
 * stops starting tenants, keeps what its journal holds, and the next run resumes once there is room.
 */
export class OwnFileError extends BacksyncError {
  constructor(
    readonly path: string,
    readonly reason: NodeJS.ErrnoException,
    problem: string,
  ) {
    super(
      { ...PLAIN, code: 'OBS_ERR_OWN_FILE', exitCode: EXIT.ownFile, scope: 'service' },
      `cannot write ${path}: ${problem}`,
      { cause: reason },
    );
  }
}

/**
 * This host, not a remote, stops the run: the open-files limit, or a run lock held by something that
 * is not a live run of this tool, or held far longer than a pass takes. The message names the fix.
 */
export class HostError extends BacksyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super({ ...PLAIN, code: 'OBS_ERR_HOST', exitCode: EXIT.ownFile, scope: 'host', namesFix: true }, message, options);
  }
}

const OPEN_FILES_LIMITS: Record<string, string> = {
  EMFILE: "this process's open-files limit",
  ENFILE: "the system's open-files limit (fs.file-max)",
};

/**
 * The host error a failure really is when, anywhere in its chain of causes, the system refused to
 * open one more file or socket: neither a bug nor the remote's doing, so never retried and never
 * blamed on OA or the controller. Undefined for any other failure.
 */
export function openFilesLimit(e: unknown): HostError | undefined {
  for (let cause = e, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code && OPEN_FILES_LIMITS[code])
      return new HostError(
        `${OPEN_FILES_LIMITS[code]} is reached (${cause.message}): the run needs more open files; raise the limit (ulimit -n, or LimitNOFILE= in the systemd unit) to 1024 or more`,
        { cause: e },
      );
  }
  return undefined;
}

/**
 * Tokens cannot be kept within their age: OA takes longer to issue one than it may be used, or the
 * controller refuses one token after another. Renewing again would only loop, so the pass stops.
 */
export class TokenRenewalError extends BacksyncError {
  constructor(message: string) {
    super(
      { ...PLAIN, code: 'OBS_ERR_TOKEN_RENEWAL', exitCode: EXIT.unreachable, scope: 'pass', namesFix: true },
      message,
    );
  }
}
