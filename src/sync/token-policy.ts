import { TokenRenewalError, traitsOf } from '../errors';
import type { InstanceToken, RenewalReason } from './ports';
import { seconds, type TokenLifetime } from './token-lifetime';

/**
 * When an instance's APS token is renewed. The original script renewed only every N tenants, and on a
 * slow controller its 30-minute token expired between renewals, so every later call failed with
 * "Authentication failed.". Here a token is renewed after `refreshEvery` tenants or once it reaches
 * the lifetime's `maxAgeMs`, whichever comes first, and once more when the controller refuses it anyway.
 *
 * Renewal is single-flight: concurrent workers never ask OA for several tokens at once. It starts
 * ahead of the limits, so a worker waits for OA only when a limit comes first. The limits stay exact:
 * the age is checked when a call is about to leave, so no request goes out with a token past its age,
 * and no token serves more than `refreshEvery` tenants.
 */
export interface TokenPolicyOptions {
  refreshEvery: number;
  /** The age rule, shared by a pass's instances, and what the controller teaches it. */
  lifetime: TokenLifetime;
  issue: () => Promise<InstanceToken>;
  /**
   * A monotonic clock in ms (the default is `performance.now`): with the wall clock, a clock stepped
   * back an hour mid-pass let a token be used at 2.1 s against a 0.3 s limit.
   */
  now?: () => number;
  onRenewed?: (reason: RenewalReason) => void;
  /** How many tenants are still to come, when known: a token is fetched ahead by count only if needed. */
  tenantsAhead?: () => number | undefined;
}

/**
 * In a healthy pass a call succeeds after every renewal, or after the second when a refusal taught the
 * lifetime. More in a row is a loop, as when OA takes longer to issue a token than APS_TOKEN_MAX_AGE
 * lets it live: tokens are fetched one after another and no tenant is touched.
 */
export const MAX_RENEWALS_WITHOUT_SUCCESS = 5;

interface HeldToken {
  value: InstanceToken;
  issuedAt: number;
  tenantsStarted: number;
  /** When it became the current token. */
  servingSince: number;
  /** The controller took it at least once. */
  worked: boolean;
  refused: boolean;
  /** Its successor was asked for before it reached a limit. */
  fetchedAhead: boolean;
}

export class TokenPolicy {
  private current: HeldToken | undefined;
  /** A token fetched ahead, waiting for the current one to reach a limit. */
  private next: HeldToken | undefined;
  private fetching: Promise<void> | undefined;
  private renewalCount = 0;
  private renewalsWithoutSuccess = 0;
  /** Once renewal cannot work, every caller hears why, and OA is not asked again. */
  private hopeless: TokenRenewalError | undefined;
  private lastIssueMs = 0;
  private readonly now: () => number;

  constructor(private readonly options: TokenPolicyOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /** How many tokens were fetched after the first one. */
  get renewals(): number {
    return Math.max(0, this.renewalCount - 1);
  }

  /** The token as last issued, e.g. for its controller URI. */
  async token(): Promise<InstanceToken> {
    return (await this.valid()).value;
  }

  /**
   * Runs `call` with a valid token. `forTenant` counts the call towards the per-count renewal. A
   * refusal of the token renews it and runs the call once more.
   */
  async run<T>(call: (token: string) => Promise<T>, forTenant = false): Promise<T> {
    const used = await this.valid(forTenant);
    try {
      return await this.attempt(used, call);
    } catch (e) {
      if (!traitsOf(e).tokenRefused) throw e;
      return this.attempt(await this.replaceRefused(used, forTenant), call);
    }
  }

  /** One call with one token. Whether the controller took the token teaches the lifetime. */
  private async attempt<T>(used: HeldToken, call: (token: string) => Promise<T>): Promise<T> {
    const age = this.now() - used.issuedAt;
    try {
      const result = await call(used.value.token);
      this.accepted(used, age);
      return result;
    } catch (e) {
      // A token that worked and then is refused has expired (or was revoked, which the lifetime tells
      // apart by age); one refused on its first use says nothing about how long tokens live. A failure
      // about the tenant (its 404 or 500) still got past the token check.
      const { tokenRefused, scope } = traitsOf(e);
      if (tokenRefused) {
        if (used.worked) this.options.lifetime.refused(age);
      } else if (scope === 'tenant') this.accepted(used, age);
      throw e;
    }
  }

  private accepted(used: HeldToken, age: number): void {
    used.worked = true;
    this.options.lifetime.accepted(age);
    this.renewalsWithoutSuccess = 0;
  }

  private async valid(forTenant = false): Promise<HeldToken> {
    for (;;) {
      const c = this.current;
      const reason = this.staleReason(c, forTenant);
      if (!reason) {
        if (forTenant) c!.tenantsStarted++;
        this.renewAheadIfNear(c!);
        return c!;
      }
      const next = this.next;
      this.next = undefined;
      if (next && !this.staleReason(next, false)) {
        next.servingSince = this.now();
        this.current = next;
        continue;
      }
      await this.fetchNext(reason);
    }
  }

  private staleReason(c: HeldToken | undefined, forTenant: boolean): RenewalReason | undefined {
    if (!c) return 'first';
    if (c.refused) return 'refused';
    const age = this.now() - c.issuedAt;
    // A clock that went backwards cannot vouch for the age, so the token is not trusted.
    if (age >= this.options.lifetime.maxAgeMs || age < 0) return 'age';
    if (forTenant && c.tenantsStarted >= this.options.refreshEvery) return 'count';
    return undefined;
  }

  /**
   * Marks the token refused: the next caller to want one takes the token fetched ahead or fetches one,
   * and the others share it, however many of their calls the same token failed.
   */
  private replaceRefused(refused: HeldToken, forTenant: boolean): Promise<HeldToken> {
    refused.refused = true;
    return this.valid(forTenant);
  }

  /**
   * Renewing only at the limit would stop every worker for one OA round trip per token, many times in
   * a large pass. So once the current token would reach a limit before a token asked
   * for now could arrive, the next one is fetched while the current keeps serving, and swapped in when
   * the current reaches its limit. One try per token: a failed fetch ahead is tried again, and its
   * error heard, only when a caller cannot go on without it.
   */
  private renewAheadIfNear(c: HeldToken): void {
    if (c.fetchedAhead || this.fetching || this.next) return;
    const reason = this.nearLimit(c);
    if (!reason) return;
    c.fetchedAhead = true;
    this.fetchNext(reason).catch(() => undefined);
  }

  /** OA's latency varies, so "before a token could arrive" is twice its last issue time. */
  private nearLimit(c: HeldToken): RenewalReason | undefined {
    const leadMs = 2 * this.lastIssueMs;
    const now = this.now();
    if (now - c.issuedAt + leadMs >= this.options.lifetime.maxAgeMs) return 'age';
    const left = this.options.refreshEvery - c.tenantsStarted;
    // Without a count of the tenants ahead, or when this token covers them all, a token fetched ahead
    // would go unused at the end of the instance.
    const ahead = this.options.tenantsAhead?.();
    if (ahead === undefined || ahead <= left) return undefined;
    const startedDuringLead = (c.tenantsStarted * leadMs) / Math.max(1, now - c.servingSince);
    return left <= Math.ceil(startedDuringLead) + 1 ? 'count' : undefined;
  }

  /** Single flight: the one OA request under way serves every caller. Its token waits in `next`. */
  private fetchNext(reason: RenewalReason): Promise<void> {
    this.fetching ??= this.fetch(reason)
      .then((fetched) => {
        this.next = fetched;
      })
      .finally(() => {
        this.fetching = undefined;
      });
    return this.fetching;
  }

  private async fetch(reason: RenewalReason): Promise<HeldToken> {
    const { lifetime } = this.options;
    if (!this.hopeless && this.renewalsWithoutSuccess >= MAX_RENEWALS_WITHOUT_SUCCESS) {
      this.hopeless = new TokenRenewalError(
        `${this.renewalsWithoutSuccess} tokens in a row were renewed without a call the controller accepted: ` +
          `it refused each one, or each aged past ${lifetime.describe()} before use; OA took ${seconds(this.lastIssueMs)} to issue the last`,
      );
    }
    if (this.hopeless) throw this.hopeless;
    // Counted from the request, not the reply: OA may have issued it any time in between.
    const requestedAt = this.now();
    const value = await this.options.issue();
    const tookMs = (this.lastIssueMs = this.now() - requestedAt);
    this.renewalCount++;
    this.renewalsWithoutSuccess++;
    if (tookMs >= lifetime.maxAgeMs) {
      throw (this.hopeless = new TokenRenewalError(
        `OA took ${seconds(tookMs)} to issue a token, already past the age a token may be used: ${lifetime.describe()}; ` +
          `set APS_TOKEN_MAX_AGE well above OA's latency`,
      ));
    }
    this.options.onRenewed?.(reason);
    return {
      value,
      issuedAt: requestedAt,
      servingSince: requestedAt,
      tenantsStarted: 0,
      worked: false,
      refused: false,
      fetchedAhead: false,
    };
  }
}
