import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/** APS tokens as OA issues them: one instance each, valid for a fixed time, revocable all at once. */
export class TokenRegistry {
  private tokens = new Map<string, { instanceId: number; issuedAt: number }>();
  private readonly all: string[] = [];

  constructor(private readonly lifetimeMs: number) {}

  issue(instanceId: number): string {
    const token = randomBytes(36).toString('base64');
    this.tokens.set(token, { instanceId, issuedAt: performance.now() });
    this.all.push(token);
    return token;
  }

  /** Every token issued, revoked or expired included. */
  issued(): string[] {
    return [...this.all];
  }

  /** The token's instance and age, or undefined when it is unknown, revoked or expired. */
  check(token: string | undefined): { instanceId: number; ageMs: number } | undefined {
    const entry = token === undefined ? undefined : this.tokens.get(token);
    if (entry === undefined) return undefined;
    const ageMs = performance.now() - entry.issuedAt;
    return ageMs > this.lifetimeMs ? undefined : { instanceId: entry.instanceId, ageMs };
  }

  revokeAll(): void {
    this.tokens = new Map();
  }
}
