import { traitsOf } from '../errors';
import type { InstanceToken } from './ports';

/**
 * When an instance's APS token is renewed. The original script renewed only every N tenants, and on a
 * slow controller its 30-minute token expired between renewals, so every later call failed with
 * "Authentication failed.". Here a token is renewed after `refreshEvery` tenants or once it is
 * `maxAgeMs` old, whichever comes first, and once more when the controller refuses it anyway.
 *
 * Renewal is single-flight: while one renewal is under way every caller waits for it, so concurrent
 * workers never ask OA for several tokens at once. The age is checked when a call is about to leave,
 * so no request goes out with a token past its age.
 */
export interface TokenPolicyOptions {
  refreshEvery: number;
  maxAgeMs: number;
  issue: () => Promise<InstanceToken>;
  now?: () => number;
  onRenewed?: (reason: RenewalReason) => void;
}

export type RenewalReason = 'first' | 'count' | 'age' | 'refused';

interface Current {
  value: InstanceToken;
  issuedAt: number;
  tenantsStarted: number;
}

export class TokenPolicy {
  private current: Current | undefined;
  private pending: Promise<Current> | undefined;
  private renewalCount = 0;
  private readonly now: () => number;

  constructor(private readonly options: TokenPolicyOptions) {
    this.now = options.now ?? Date.now;
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
      return await call(used.value.token);
    } catch (e) {
      if (!traitsOf(e).tokenRefused) throw e;
      const fresh = await this.renewIfStill(used, forTenant);
      return call(fresh.value.token);
    }
  }

  private async valid(forTenant = false): Promise<Current> {
    for (;;) {
      if (this.pending) await this.pending;
      const c = this.current;
      const reason = this.staleReason(c, forTenant);
      if (!reason) {
        if (forTenant) c!.tenantsStarted++;
        return c!;
      }
      await this.renew(reason);
    }
  }

  private staleReason(c: Current | undefined, forTenant: boolean): RenewalReason | undefined {
    if (!c) return 'first';
    if (this.now() - c.issuedAt >= this.options.maxAgeMs) return 'age';
    if (forTenant && c.tenantsStarted >= this.options.refreshEvery) return 'count';
    return undefined;
  }

  /** Renews unless another caller already replaced the refused token. */
  private async renewIfStill(refused: Current, forTenant: boolean): Promise<Current> {
    if (this.pending) await this.pending;
    if (this.current === refused) await this.renew('refused');
    return this.valid(forTenant);
  }

  private renew(reason: RenewalReason): Promise<Current> {
    if (!this.pending) {
      this.pending = (async () => {
        // Counted from the request, not the reply: OA may have issued it any time in between.
        const requestedAt = this.now();
        const value = await this.options.issue();
        this.current = { value, issuedAt: requestedAt, tenantsStarted: 0 };
        this.renewalCount++;
        this.options.onRenewed?.(reason);
        return this.current;
      })().finally(() => {
        this.pending = undefined;
      });
    }
    return this.pending;
  }
}
