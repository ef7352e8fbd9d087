import { randomBytes } from 'node:crypto';

/** Milliseconds on a clock that only moves forward; tests may drive it by hand. */
export type Clock = () => number;

/** APS tokens as OA issues them: one instance each, valid for a fixed time, revocable all at once. */
export class TokenRegistry {
  private tokens = new Map<string, { instanceId: number; issuedAt: number }>();
  private readonly all: string[] = [];

  constructor(
    private readonly lifetimeMs: number,
    private readonly clock: Clock,
  ) {}

  issue(instanceId: number): string {
    const token = randomBytes(36).toString('base64');
    this.tokens.set(token, { instanceId, issuedAt: this.clock() });
    this.all.push(token);
    return token;
  }

  /** Every token issued, revoked or expired included. */
  issued(): string[] {
    return [...this.all];
  }

  /** The token's instance, age and issue time, or undefined when it is unknown, revoked or expired. */
  check(token: string | undefined): { instanceId: number; ageMs: number; issuedAt: number } | undefined {
    const entry = token === undefined ? undefined : this.tokens.get(token);
    if (entry === undefined) return undefined;
    const ageMs = this.clock() - entry.issuedAt;
    return ageMs > this.lifetimeMs ? undefined : { instanceId: entry.instanceId, ageMs, issuedAt: entry.issuedAt };
  }

  /** The instance an unrevoked token was issued for, expired or not. */
  instanceOf(token: string | undefined): number | undefined {
    return token === undefined ? undefined : this.tokens.get(token)?.instanceId;
  }

  revokeAll(): void {
    this.tokens = new Map();
  }
}
