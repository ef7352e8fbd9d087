import type { PassResult } from '../sync/pass';
import { errorCode } from './pass-log';
import type { PassCounts } from '../sync/counts';
import type { UnresolvedTenant } from '../sync/targeted';

/** The one object `--json` prints, and the final log line: what a pass did, in numbers. */
export interface RunSummary extends PassCounts {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  dryRun: boolean;
  complete: boolean;
  instances: number;
  tokenRefreshes: number;
  instanceFailures: { instanceId: number; code?: string; error: string }[];
  interruptedBy?: string;
  /** Targeted runs: asked-for tenants that were not resynced, and why. */
  notResynced?: UnresolvedTenant[];
  exitCode: number;
}

export function summarize(result: PassResult, startedAt: number, finishedAt: number, dryRun: boolean, exitCode: number): RunSummary {
  const { instanceFailures, interruptedBy, ...counts } = result;
  return {
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    durationMs: finishedAt - startedAt,
    dryRun,
    complete: !interruptedBy && instanceFailures.length === 0,
    ...counts,
    instanceFailures: instanceFailures.map((f) => ({ instanceId: f.instanceId, code: errorCode(f.error), error: f.error.message })),
    ...(interruptedBy ? { interruptedBy: interruptedBy === 'signal' ? 'signal' : interruptedBy.message } : {}),
    exitCode,
  };
}

/** A few lines for a person at a terminal. */
export function formatSummary(s: RunSummary, logPath: string): string {
  const where = `across ${s.instances} instance${s.instances === 1 ? '' : 's'} in ${(s.durationMs / 1000).toFixed(1)}s`;
  const lines = [
    s.dryRun
      ? `dry run: ${s.planned} tenants would be resynced ${where}`
      : `${s.synced} synced, ${s.failed} failed, ${s.skipped} skipped of ${s.tenants} tenants ${where}`,
  ];
  if (s.alreadyDone) lines.push(`${s.alreadyDone} tenants were already done by the interrupted run this one resumed`);
  for (const f of s.instanceFailures) lines.push(`instance ${f.instanceId} failed: ${f.error}`);
  if (s.interruptedBy) lines.push(`interrupted: ${s.interruptedBy}`);
  for (const t of s.notResynced ?? []) lines.push(`tenant ${t.tenantId} ${t.reason}`);
  lines.push(`log: ${logPath}`);
  return lines.join('\n');
}
