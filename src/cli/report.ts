import type { Logger } from 'pino';
import type { Config } from '../runtime/config';
import type { RunClock } from '../runtime/run-clock';
import type { SecretScrubber } from '../runtime/secrets';
import type { PassCounts } from '../sync/counts';
import { isComplete, type PassResult } from '../sync/pass';
import { describeUnmatched, type UnmatchedTenantType } from '../sync/tenant-types';
import type { UnresolvedTenant } from '../sync/targeted';
import { EXIT } from './exit-codes';
import { printable } from './terminal-text';
import { errorCode } from './pass-log';
import { fixFor, withFix } from './fixes';

/**
 * What a run says when its pass is over: the final log line always; on stdout the JSON summary
 * (--json) or a few lines for a person at a terminal; on stderr, for cron to mail, one line when the
 * pass did not fully succeed. A dry run also lists the tenants it would resync where a person looks (the
 * terminal, or --json); the log has a line for each in any case.
 */
export interface ReportTarget {
  logger: Logger;
  scrubber: SecretScrubber;
  logPath: string;
  /** LOG_DIR=-: stdout is the log's alone, so no summary for a person goes there. */
  logOnStdout: boolean;
  json: boolean;
  dryRun: boolean;
  clock: RunClock;
  config: Pick<Config, 'oaPort'>;
  say(line: string): void;
}

export interface PlannedResync {
  instanceId: number;
  tenantId: string;
}

/** Reports the pass; returns its one-line reason when it did not fully succeed, else null. */
export function reportPass(
  to: ReportTarget,
  result: PassResult,
  exitCode: number,
  unresolved: UnresolvedTenant[],
  wouldResync: PlannedResync[],
): string | null {
  const summary: RunSummary = {
    ran: true,
    ...summarize(result, to.clock, to.dryRun, exitCode, to.config),
    ...(unresolved.length ? { notResynced: unresolved } : {}),
  };
  to.logger.info(summary, 'pass finished');
  const terminal = process.stdout.isTTY && !to.logOnStdout;
  if (to.json)
    process.stdout.write(`${to.scrubber.scrub(JSON.stringify(to.dryRun ? { ...summary, wouldResync } : summary))}\n`);
  else if (terminal) {
    const listing = wouldResync.map((t) => `would resync instance ${t.instanceId} tenant ${t.tenantId}\n`).join('');
    process.stdout.write(`${printable(to.scrubber.scrub(listing + formatSummary(summary, to.logPath)))}\n`);
  }
  if (exitCode === EXIT.ok) return null;
  const problem = to.scrubber.scrub(problemLine(result, unresolved, to.logPath, to.config));
  if (!terminal) to.say(problem);
  return problem;
}

/** The one object `--json` prints, and the final log line: what a pass did, in numbers. */
export interface RunSummary extends PassCounts {
  /** A pass ran; a run that does none says `ran: false` and why. */
  ran: true;
  /** Listed items that were not tenants. */
  invalid: number;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  dryRun: boolean;
  complete: boolean;
  instances: number;
  tokenRefreshes: number;
  /** Each with what to change, where `check` would name it. */
  instanceFailures: { instanceId: number; code?: string; error: string; fix?: string }[];
  interruptedBy?: string;
  /** Targeted runs: asked-for tenants that were not resynced, and why. */
  notResynced?: UnresolvedTenant[];
  /** APS_TENANT_TYPE found no tenant while the controller holds other tenant types. */
  tenantTypeUnmatched?: UnmatchedTenantType;
  exitCode: number;
}

/** The stamps are the wall clock's, for people; the duration is the monotonic clock's, so never negative. */
export function summarize(
  result: PassResult,
  clock: RunClock,
  dryRun: boolean,
  exitCode: number,
  config: Pick<Config, 'oaPort'>,
): Omit<RunSummary, 'ran'> {
  const { instanceFailures, interruptedBy, ...counts } = result;
  return {
    startedAt: clock.startedAt.toISOString(),
    finishedAt: new Date(clock.now()).toISOString(),
    durationMs: clock.elapsedMs(),
    dryRun,
    complete: isComplete(result),
    ...counts,
    instanceFailures: instanceFailures.map((f) => {
      const fix = fixFor(f.error, config);
      return { instanceId: f.instanceId, code: errorCode(f.error), error: f.error.message, ...(fix ? { fix } : {}) };
    }),
    ...(interruptedBy ? { interruptedBy: interruptedBy === 'signal' ? 'signal' : interruptedBy.message } : {}),
    exitCode,
  };
}

/** A few lines for a person at a terminal. */
export function formatSummary(s: RunSummary, logPath: string): string {
  const where = `across ${s.instances} instance${s.instances === 1 ? '' : 's'} in ${(s.durationMs / 1000).toFixed(1)}s`;
  const lines = [
    s.dryRun
      ? `dry run: ${s.planned} tenants would be resynced${s.busy ? `, ${s.busy} are busy` : ''} ${where}`
      : `${s.synced} synced, ${s.failed} failed, ${s.skipped} skipped${s.busy ? `, ${s.busy} busy` : ''} of ${s.tenants} tenants ${where}`,
  ];
  if (s.invalid)
    lines.push(
      `${s.invalid} listed items were not tenants (no or an invalid aps.id) and were passed over (the log names each)`,
    );
  if (s.lastSyncFailed)
    lines.push(`${s.lastSyncFailed} tenants' last synchronization had failed (the log names each with its lastSync)`);
  if (s.alreadyDone) lines.push(`${s.alreadyDone} tenants were already done by the interrupted run this one resumed`);
  for (const f of s.instanceFailures)
    lines.push(`instance ${f.instanceId} failed: ${f.error}${f.fix ? `; fix: ${f.fix}` : ''}`);
  if (s.tenantTypeUnmatched) lines.push(describeUnmatched(s.tenantTypeUnmatched));
  if (s.interruptedBy) lines.push(`interrupted: ${s.interruptedBy}`);
  for (const t of s.notResynced ?? []) lines.push(`tenant ${t.tenantId} ${t.reason}`);
  lines.push(`log: ${logPath}`);
  return lines.join('\n');
}

/** The one line cron mails when a pass did not fully succeed. */
function problemLine(
  result: PassResult,
  unresolved: UnresolvedTenant[],
  logPath: string,
  config: Pick<Config, 'oaPort'>,
): string {
  if (result.interruptedBy instanceof Error) return withFix(result.interruptedBy, config);
  if (result.interruptedBy === 'signal')
    return `stopped by a signal after ${result.tenants} tenants; the next run resumes the pass`;
  const first = result.instanceFailures[0];
  if (first) return `instance ${first.instanceId}: ${withFix(first.error, config)}`;
  if (result.tenantTypeUnmatched) return describeUnmatched(result.tenantTypeUnmatched);
  if (result.invalid && !result.failed && !result.lastSyncFailed)
    return `${result.invalid} listed items were not tenants (no or an invalid aps.id); details in ${logPath}`;
  if (result.lastSyncFailed && !result.failed)
    return `${result.lastSyncFailed} of ${result.tenants} tenants' last synchronization had failed; details in ${logPath}`;
  if (unresolved[0] && !result.failed)
    return `tenant ${unresolved[0].tenantId} ${unresolved[0].reason}${unresolved.length > 1 ? ` (and ${unresolved.length - 1} more; details in ${logPath})` : ''}`;
  return `${result.failed} of ${result.tenants} tenants failed; details in ${logPath}`;
}
