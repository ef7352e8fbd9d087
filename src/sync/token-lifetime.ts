/**
 * How long the controller's tokens live, as far as the tool can tell. OA's token reply carries no
 * lifetime, and the platform's setting is not documented for every version (src/aps/README.md, the
 * token lifetime row), so the tool starts from APS_TOKEN_MAX_AGE and learns from the controller: a
 * token refused younger than that shows the platform's lifetime. Without learning, every call in
 * flight at every expiry is refused; learning costs only the calls in flight at the first expiry.
 *
 * One learner serves every instance of a pass (the lifetime is a platform setting), and what it learns
 * is kept for later runs by whoever hears `onLearned`.
 */
export interface TokenLifetimeOptions {
  /** APS_TOKEN_MAX_AGE in ms. */
  configuredMaxAgeMs: number;
  /** A lifetime learned by an earlier run, if any. */
  knownLifetimeMs?: number;
  /** Told each time the learned lifetime gets shorter; `first` on the first time in this run. */
  onLearned?: (lifetimeMs: number, first: boolean) => void;
}

/**
 * A token is renewed at 80% of the learned lifetime: the age the tool measures starts when it asks OA
 * for the token, so a refusal seen by the tool says the token lived at most that long, and the rest
 * leaves room for a call's trip to the controller (a vendor tool renews 30-minute tokens at 25).
 */
export const LEARNED_SHARE = 0.8;

/**
 * A refusal younger than this is a revoked token, not a lifetime: no platform's tokens live under
 * 5 minutes, and a controller revoking tokens mid-pass (a restart, a changed instance) would otherwise
 * teach a lifetime of a few hundred ms and one token request per call from then on. 1 s keeps short
 * test lifetimes (the simulator's 2 s) learnable.
 */
export const MIN_LEARNED_LIFETIME_MS = 1000;

export class TokenLifetime {
  private learnedMs: number | undefined;
  private oldestAcceptedMs = 0;
  private learnedThisRun = false;

  constructor(private readonly options: TokenLifetimeOptions) {
    this.learnedMs = options.knownLifetimeMs;
  }

  /** The age at which a token is renewed: APS_TOKEN_MAX_AGE, or sooner when a shorter lifetime is known. */
  get maxAgeMs(): number {
    const { configuredMaxAgeMs } = this.options;
    return this.learnedMs === undefined
      ? configuredMaxAgeMs
      : Math.min(configuredMaxAgeMs, this.learnedMs * LEARNED_SHARE);
  }

  /** The rule `maxAgeMs` comes from, in words an operator can act on. */
  describe(): string {
    const setting = `APS_TOKEN_MAX_AGE (${seconds(this.options.configuredMaxAgeMs)})`;
    if (this.maxAgeMs === this.options.configuredMaxAgeMs) return setting;
    return `${seconds(this.maxAgeMs)} (${LEARNED_SHARE * 100}% of the ${seconds(this.learnedMs!)} the controller's tokens were found to live; ${setting})`;
  }

  /** A call that left with a token of this age was accepted: the lifetime is longer than that. */
  accepted(ageMs: number): void {
    if (ageMs > this.oldestAcceptedMs) this.oldestAcceptedMs = ageMs;
  }

  /**
   * A call that left with a token of this age was refused. Only a refusal older than every accepted
   * age, and than MIN_LEARNED_LIFETIME_MS, is taken as the lifetime: a younger one is a token revoked.
   */
  refused(ageMs: number): void {
    if (ageMs >= this.maxAgeMs || ageMs <= this.oldestAcceptedMs || ageMs < MIN_LEARNED_LIFETIME_MS) return;
    if (this.learnedMs !== undefined && ageMs >= this.learnedMs) return;
    this.learnedMs = ageMs;
    this.options.onLearned?.(ageMs, !this.learnedThisRun);
    this.learnedThisRun = true;
  }
}

/** Milliseconds as seconds for a message: '1.5 s', '1500 s'. */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(ms < 10_000 ? 2 : 0))} s`;
}
