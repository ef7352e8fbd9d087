/**
 * Every failure the tool reports is one of these. Each has a stable `code` that logs and tests can
 * match on, and a message that carries the remote's own words. Secrets never enter a message:
 * callers build messages from replies and settings, never from headers or credentials.
 * `src/cli/exit-codes.ts` is the one place that turns them into exit codes.
 */
export type Remote = 'oa' | 'aps';

export class BacksyncError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A setting is missing or malformed; `variable` names it as the operator wrote it. */
export class ConfigError extends BacksyncError {
  constructor(readonly variable: string, problem: string) {
    super('OBS_ERR_CONFIG', `${variable}: ${problem}`);
  }
}

/** OA answered `status: -1`. */
export class OaError extends BacksyncError {
  constructor(
    readonly method: string,
    readonly errorMessage: string,
    readonly moduleId: string | undefined,
    readonly extypeId: number | undefined,
  ) {
    super('OBS_ERR_OA', `OA ${method} failed: ${errorMessage}${moduleId ? ` (module ${moduleId}, extype ${extypeId ?? '?'})` : ''}`);
  }
}

/** OA answered with an XML-RPC fault (unknown method, broken request). */
export class OaFaultError extends BacksyncError {
  constructor(readonly method: string, readonly faultCode: number | undefined, readonly faultString: string) {
    super('OBS_ERR_OA_FAULT', `OA ${method} fault ${faultCode ?? '?'}: ${faultString}`);
  }
}

/** The OA Public API's web server answered with a non-200 status (basic auth, proxy). */
export class OaHttpError extends BacksyncError {
  constructor(readonly status: number, detail: string, readonly retryAfterMs?: number) {
    super('OBS_ERR_OA_HTTP', `OA Public API answered HTTP ${status}${detail ? `: ${detail}` : ''}`);
  }
}

/** The APS controller answered with an error status. */
export class ApsError extends BacksyncError {
  constructor(
    readonly status: number,
    readonly remoteMessage: string,
    readonly remoteType: string | undefined,
    readonly retryAfterMs?: number,
  ) {
    super('OBS_ERR_APS', `APS controller answered ${status}${remoteType ? ` ${remoteType}` : ''}: ${remoteMessage}`);
  }

  /** The controller refused the token: the caller should renew it and try once more. */
  get tokenRefused(): boolean {
    return this.status === 401 || this.status === 403 || this.remoteMessage.trim() === 'Authentication failed.';
  }

  /** Overload or a proxy in front of the controller: worth another try later. */
  get transient(): boolean {
    return [429, 502, 503, 504].includes(this.status);
  }
}

/** A reply that does not follow the protocol (bad XML, bad JSON, wrong shape, bad Content-Range). */
export class ProtocolError extends BacksyncError {
  constructor(readonly remote: Remote, message: string, options?: { cause?: unknown }) {
    super('OBS_ERR_PROTOCOL', message, options);
  }
}

/** A reply larger than the limit we accept for it. */
export class BodyTooLargeError extends BacksyncError {
  constructor(readonly remote: Remote, readonly limitBytes: number, what: string) {
    super('OBS_ERR_BODY_TOO_LARGE', `${what} exceeded the ${limitBytes}-byte reply limit (MAX_REPLY_BYTES)`);
  }
}

/** No usable connection: refused, reset, DNS, or no answer in time. */
export class NetworkError extends BacksyncError {
  constructor(readonly remote: Remote, readonly url: string, detail: string, options?: { cause?: unknown }) {
    super('OBS_ERR_NETWORK', `${remote === 'oa' ? 'OA Public API' : 'APS controller'} at ${url}: ${detail}`, options);
  }
}

/** The peer's certificate was refused; the message names the setting that fixes it. */
export class TlsError extends BacksyncError {
  constructor(readonly remote: Remote, readonly url: string, detail: string, fix: string, options?: { cause?: unknown }) {
    super('OBS_ERR_TLS', `certificate of ${url} not trusted: ${detail}; ${fix}`, options);
  }
}

/**
 * Too many consecutive failures that were not about one tenant, or an instance that could not be
 * listed at all: the controller is down. `at` names that instance.
 */
export class ControllerDownError extends BacksyncError {
  constructor(readonly failures: number, readonly lastError: Error, at?: number) {
    super(
      'OBS_ERR_CONTROLLER_DOWN',
      at === undefined ? `stopped after ${failures} consecutive controller failures; last: ${lastError.message}` : `stopped at instance ${at}: ${lastError.message}`,
    );
  }
}
