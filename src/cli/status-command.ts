import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { loadConfig, type LocalConfig } from '../runtime/config';
import { LOG_FILE_NAME, LOG_TO_STDOUT, logLocation } from '../runtime/logger';
import { readLastRun, type LastRun } from '../runtime/last-run';
import type { LastPass, TenantFailure, TenantSyncFailure } from '../runtime/pass-record';
import { type TenantCounts, tenantCounts } from '../sync/counts';
import { PassStateStore } from '../runtime/pass-state';
import { lockHolder } from '../runtime/run-lock';
import { AUTO_INTERVAL_FACTOR, intervalMs } from '../sync/pacing';
import {
  decideRun,
  describeClockBehind,
  describeDiscard,
  passTenantType,
  type RunDecision,
  TYPES_FROM_LIBRARY,
} from '../sync/run-decision';
import { printable } from './terminal-text';
import { EXIT, exitCodeFor } from './exit-codes';
import { duration } from './human';

export interface StatusFlags {
  envFile?: string;
  json?: boolean;
  stateDir?: string;
}

/** What `status --json` prints. Every field is present; null where there is nothing to say. */
export interface Status {
  lastRun:
    | (TenantCounts &
        Pick<LastPass, 'startedAt' | 'finishedAt' | 'durationMs' | 'instances' | 'tokenRefreshes' | 'complete'>)
    | null;
  /** How the last run that took the lock ended, whatever it did: a pass, no pass, or a failure. */
  lastEnding: LastRun | null;
  /** That run's exit code, or null when no run has ended yet. */
  exitCode: number | null;
  /** When the last full pass that reached every instance finished. */
  lastSuccessAt: string | null;
  /** The run holding the lock now, if any: a full pass, a dry or targeted run, or a tick about to exit. */
  activeRun: { pid: number | null; startedAt: string | null } | null;
  /** The full pass started and not finished, and how far it got, per its journal. */
  inProgress: (TenantCounts & { startedAt: string; runs: number; pid: number | null }) | null;
  failedTenants: TenantFailure[];
  /** Failed tenants of the last pass beyond those last-pass.json keeps (the log has them all). */
  failedTenantsOmitted: number;
  /** Tenants of the last pass whose sync status said their last synchronization failed, with its lastSync. */
  lastSyncFailedTenants: TenantSyncFailure[];
  lastSyncFailedTenantsOmitted: number;
  /** 1.5 x the last full pass, the vendor's guidance; what SYNC_MIN_INTERVAL=auto uses. */
  recommendedIntervalSeconds: number | null;
  minInterval: 'auto' | number;
  /**
   * What the next run cron starts will do, as `sync` decides it: whether it starts (or resumes) a
   * pass, and when one will start; `why` says why an unfinished pass is discarded, or what status
   * cannot tell ('unknown': null for both then).
   */
  next: { startsPass: boolean | null; at: string | null; reason: RunDecision['reason']; why: string | null };
  /** null when the log goes to stdout (LOG_DIR=-). */
  logFile: string | null;
  stateDir: string;
  warnings: string[];
}

/** `status`: reads STATE_DIR and asks the lock who holds it. No network, no change to any file. */
export async function statusCommand(flags: StatusFlags): Promise<number> {
  let status: Status;
  try {
    const config = loadConfig({ scope: 'local', envFile: flags.envFile, flags: { STATE_DIR: flags.stateDir } });
    status = await readStatus(config);
  } catch (e) {
    process.stderr.write(`o365-backsync: ${printable((e as Error).message)}\n`);
    return exitCodeFor(e);
  }
  process.stdout.write(flags.json ? `${JSON.stringify(status)}\n` : `${printable(formatStatus(status))}\n`);
  return EXIT.ok;
}

async function readStatus(config: LocalConfig, now = Date.now()): Promise<Status> {
  const { stateDir } = config;
  const warnings: string[] = [];
  const present = stateDirPresent(stateDir);
  const store = new PassStateStore(stateDir, (message) => warnings.push(message));
  const { unfinished, last } = present ? store.runState() : { unfinished: undefined, last: undefined };
  const lastEnding = present ? readLastRun(stateDir, (message) => warnings.push(message)) : undefined;
  const holder = present ? await lockHolder(stateDir) : undefined;
  const activeRun =
    holder === undefined
      ? null
      : holder === 'unknown'
        ? { pid: null, startedAt: null }
        : { pid: holder.pid, startedAt: holder.startedAt };
  const header = unfinished === 'damaged' ? undefined : unfinished;
  const done = header ? store.doneSoFar() : undefined;
  const decision = decideRun(
    { running: activeRun !== null, unfinished, last },
    {
      appId: config.officeAppId ?? undefined,
      tenantType: config.tenantType === null ? undefined : passTenantType(config.tenantType),
      minInterval: config.minIntervalSeconds,
    },
    now,
  );

  if ('clockBehind' in decision && decision.clockBehind) warnings.push(describeClockBehind(decision.clockBehind, now));
  const recommendedSeconds = last ? Math.round(intervalMs(last, 'auto') / 1000) : null;
  if (
    last &&
    typeof config.minIntervalSeconds === 'number' &&
    config.minIntervalSeconds > 0 &&
    last.durationMs > 0.7 * config.minIntervalSeconds * 1000
  ) {
    warnings.push(
      `the last pass took ${duration(last.durationMs / 1000)}, more than 70% of SYNC_MIN_INTERVAL (${config.minIntervalSeconds}s): widen it to about ${recommendedSeconds}s, or set it to auto`,
    );
  }
  return {
    lastEnding: lastEnding ?? null,
    exitCode: lastEnding?.exitCode ?? null,
    lastRun: last
      ? {
          startedAt: last.startedAt,
          finishedAt: last.finishedAt,
          durationMs: last.durationMs,
          ...tenantCounts(last),
          instances: last.instances,
          tokenRefreshes: last.tokenRefreshes,
          complete: last.complete,
        }
      : null,
    lastSuccessAt: last?.lastCompleteAt ?? null,
    activeRun,
    inProgress:
      header && done
        ? {
            startedAt: header.startedAt,
            runs: header.runs,
            pid: activeRun?.pid ?? null,
            ...tenantCounts(done),
          }
        : null,
    failedTenants: last?.failures ?? [],
    failedTenantsOmitted: last?.failuresOmitted ?? 0,
    lastSyncFailedTenants: last?.lastSyncFailures ?? [],
    lastSyncFailedTenantsOmitted: last?.lastSyncFailuresOmitted ?? 0,
    recommendedIntervalSeconds: recommendedSeconds,
    minInterval: config.minIntervalSeconds,
    next: nextRun(decision, now),
    logFile: config.logDir === LOG_TO_STDOUT ? null : join(config.logDir, LOG_FILE_NAME),
    stateDir,
    warnings,
  };
}

/**
 * Whether STATE_DIR is there to read. Only a folder that is not there means no history (and no run
 * could hold its lock): nothing to read, and nothing is created. One this user cannot reach or read,
 * its parent's fault or its own, is an error that names it, never "none finished yet".
 */
function stateDirPresent(stateDir: string): boolean {
  const cannotRead = (e: unknown): ConfigError =>
    new ConfigError(
      'STATE_DIR',
      `cannot read ${stateDir}: ${(e as NodeJS.ErrnoException).code}; run status as the user that runs sync`,
    );
  try {
    statSync(stateDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw cannotRead(e);
  }
  try {
    accessSync(stateDir, constants.R_OK | constants.X_OK);
  } catch (e) {
    throw cannotRead(e);
  }
  return true;
}

/** The decision as `status --json` shows it. */
export function nextRun(decision: RunDecision, now: number): Status['next'] {
  const { reason, startsPass } = decision;
  const at = reason === 'not-due' ? decision.dueAt : startsPass ? now : undefined;
  let why: string | null = null;
  if (reason === 'unknown' && decision.setting === 'APS_TENANT_TYPE')
    why = `the unfinished pass is resumed only if APS_TENANT_TYPE is still ${decision.was === TYPES_FROM_LIBRARY ? 'unset' : decision.was}, and its value here is not valid`;
  else if (reason === 'unknown')
    why = `the unfinished pass is resumed only if ${decision.setting} is still ${decision.was}, and it is not set here (or not valid)`;
  else if ('discard' in decision && decision.discard)
    why = `the unfinished pass ${describeDiscard(decision.discard)}: the next run discards it`;
  else if ('clockBehind' in decision && decision.clockBehind) why = describeClockBehind(decision.clockBehind, now);
  return { startsPass: startsPass ?? null, at: at === undefined ? null : new Date(at).toISOString(), reason, why };
}

const FAILURES_SHOWN = 10;

function formatStatus(s: Status, now = Date.now()): string {
  const when = (iso: string): string => `${iso} (${duration((now - Date.parse(iso)) / 1000)} ago)`;
  const counts = (c: TenantCounts): string =>
    `${c.synced} synced, ${c.failed} failed, ${c.skipped} skipped${c.busy ? `, ${c.busy} busy` : ''}${c.lastSyncFailed ? `; ${c.lastSyncFailed} last syncs failed` : ''}`;
  const lines: string[] = [];
  const e = s.lastEnding;
  if (e) lines.push(`last run:    ended ${when(e.finishedAt)}, exit ${e.exitCode}${e.reason ? `: ${e.reason}` : ''}`);
  else lines.push('last run:    none ended yet');
  const l = s.lastRun;
  if (l) {
    lines.push(
      `last pass:   started ${when(l.startedAt)}, took ${duration(l.durationMs / 1000)}: ${counts(l)} of ${l.tenants} tenants across ${l.instances} instances`,
    );
    if (!l.complete)
      lines.push(
        `             some instances could not be reached${s.lastSuccessAt ? `; last complete pass finished ${when(s.lastSuccessAt)}` : ''}`,
      );
  } else lines.push('last pass:   none finished yet');
  if (s.inProgress) {
    const p = s.inProgress;
    // What becomes of it is the decision's to say, on the "next pass" line, unless it is plainly resumed.
    const who =
      p.pid !== null
        ? `run pid ${p.pid} is working on it`
        : `no run is working on it now${s.next.reason === 'resume' ? '; the next run resumes it' : ''}`;
    lines.push(
      `in progress: pass started ${when(p.startedAt)}: ${p.tenants} tenants done so far (${counts(p)}); ${who}`,
    );
  } else if (s.activeRun) {
    lines.push(
      `in progress: run pid ${s.activeRun.pid ?? '?'} holds the lock (a dry or targeted run, or one just starting)`,
    );
  } else lines.push('in progress: none');
  const tenant = (f: { instanceId: number; tenantId: string }): string =>
    `instance ${f.instanceId} tenant ${f.tenantId}`;
  listSome(
    lines,
    'failed tenants of the last pass:',
    s.failedTenants.map((f) => `${tenant(f)}: ${f.error}`),
    s.failedTenantsOmitted,
  );
  listSome(
    lines,
    'tenants of the last pass whose last synchronization had failed:',
    s.lastSyncFailedTenants.map((f) => `${tenant(f)}: lastSync ${f.lastSync}`),
    s.lastSyncFailedTenantsOmitted,
  );
  if (s.recommendedIntervalSeconds !== null) {
    const used = s.minInterval === 'auto' ? 'SYNC_MIN_INTERVAL=auto uses it' : `SYNC_MIN_INTERVAL is ${s.minInterval}s`;
    lines.push(
      `interval:    ${s.recommendedIntervalSeconds}s recommended (${AUTO_INTERVAL_FACTOR} x the last pass); ${used}`,
    );
  }
  lines.push(`next pass:   ${describeNext(s.next, now)}`);
  for (const w of s.warnings) lines.push(`warning:     ${w}`);
  lines.push(`log:         ${s.logFile ?? logLocation(LOG_TO_STDOUT)}`);
  return lines.join('\n');
}

/** The first FAILURES_SHOWN of a list last-pass.json keeps, and how many more there are. */
function listSome(lines: string[], title: string, items: string[], omitted: number): void {
  if (!items.length) return;
  lines.push(title, ...items.slice(0, FAILURES_SHOWN).map((item) => `  ${item}`));
  const more = items.length - FAILURES_SHOWN + omitted;
  if (more > 0) lines.push(`  and ${more} more (status --json lists up to ${items.length}; the log has every one)`);
}

function describeNext(next: Status['next'], now: number): string {
  const why = next.why ? `; ${next.why}` : '';
  switch (next.reason) {
    case 'running':
      return 'a run is active; runs started meanwhile exit at once';
    case 'resume':
      return 'the next run resumes the unfinished pass';
    case 'first':
      return `the next run starts the first pass${why}`;
    case 'due':
      return `due now: the next run starts one${why}`;
    case 'not-due':
      return `due at ${next.at} (in ${duration((Date.parse(next.at!) - now) / 1000)}); runs before then exit at once${why}`;
    case 'unknown':
      return `cannot tell${why}`;
  }
}
