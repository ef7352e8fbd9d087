import { basename, dirname } from 'node:path';
import type { StreamEntry } from 'pino';
import { ConfigError, HostError, openFilesLimit, OwnFileError } from '../errors';
import { doubtfulSettings, loadConfig } from '../runtime/config';
import { LOG_TO_STDOUT, logLocation, openRunLog } from '../runtime/logger';
import { writeMetrics } from '../runtime/metrics';
import { PASS_FILE, PassStateStore, type PassHeader, type RunningPass } from '../runtime/pass-state';
import { acquireRunLock, foreignHolder, stuckHolder, type LockAttempt } from '../runtime/run-lock';
import { readLastRun, writeLastRun, type LastRun } from '../runtime/last-run';
import { SecretScrubber } from '../runtime/secrets';
import { TraceFile } from '../runtime/trace-file';
import { RunStop } from '../runtime/shutdown';
import { RunClock } from '../runtime/run-clock';
import { claimedPath, ownFileError, removeStaleTemps } from '../runtime/own-files';
import { logDirWarning } from '../runtime/host-folders';
import {
  decideRun,
  describeClockBehind,
  describeDiscard,
  passTenantType,
  type PassDecision,
  type PassIdentity,
} from '../sync/run-decision';
import { EXIT, exitCodeFor } from './exit-codes';
import { printable } from './terminal-text';
import { duration } from './human';
import { withFix } from './fixes';
import { errorCode } from './pass-log';
import type { PassProgress } from './progress';
import { runSyncPass, type SyncFlags, type SyncRun } from './sync-pass';

export type { SyncFlags };

/**
 * `sync`: settings, then the lock, then pacing and resume, then the pass. Everything before the pass
 * is local and cheap, so the runs cron starts every minute that find another run active, or no pass
 * due, cost almost nothing and touch no network. Returns the exit code.
 */
export async function syncCommand(flags: SyncFlags): Promise<number> {
  const scrubber = new SecretScrubber();
  const say = (line: string): void => void process.stderr.write(`o365-backsync: ${printable(scrubber.scrub(line))}\n`);
  const stop = new RunStop();
  let run: SyncRun;
  try {
    const config = loadConfig({
      envFile: flags.envFile,
      flags: {
        SYNC_CONCURRENCY: flags.concurrency,
        LOG_DIR: flags.logDir,
        STATE_DIR: flags.stateDir,
        METRICS_FILE: flags.metricsFile,
      },
    });
    scrubber.addCredentials(config.oaUser, config.oaPassword);
    const logOnStdout = config.logDir === LOG_TO_STDOUT;
    if (logOnStdout && flags.json)
      throw new ConfigError(
        '--json',
        `cannot be combined with LOG_DIR=${LOG_TO_STDOUT}: stdout then carries the log, whose last line ("pass finished") holds the same summary; drop --json, or set LOG_DIR to a folder`,
      );
    const kept = { stateDir: config.stateDir, logFile: logLocation(config.logDir) };
    const metricsClaimed = config.metricsFile && claimedPath(config.metricsFile, kept);
    if (metricsClaimed)
      throw new ConfigError('METRICS_FILE', `will not write '${config.metricsFile}': ${metricsClaimed}`);
    const trace = flags.trace
      ? new TraceFile(flags.trace, { scrubber, maxEntries: config.traceMaxEntries, onError: say, kept })
      : undefined;
    const { progress, echo } = logOnStdout ? {} : terminalFor(flags);
    const log = openRunLog(config.logDir, scrubber, config.logLevel, echo, (path, error) =>
      stop.because(ownFileError(path, error)),
    );
    run = { stop, config, log, logger: log.logger, scrubber, trace, flags, progress, clock: new RunClock(), say };
  } catch (e) {
    const error = openFilesLimit(e) ?? (e as Error);
    say(error.message);
    return exitCodeFor(error);
  }
  const code = await lockedRun(run);
  run.log.flush();
  return code;
}

/** How a run ended: its exit code and the one line that says why, for `status` and the metrics. */
export interface RunEnding {
  exitCode: number;
  /** Null when it ended well. */
  reason: string | null;
}

async function lockedRun(run: SyncRun): Promise<number> {
  let lock: LockAttempt;
  try {
    lock = await acquireRunLock(run.config.stateDir, run.clock.startedAt);
  } catch (e) {
    return fail(run, e as Error).exitCode;
  }
  if (!lock.acquired) {
    const { holder } = lock;
    const problem = holder
      ? stuckHolder(holder, lastPassMs(run), run.clock.now())
      : foreignHolder(run.config.stateDir, lock.lockPid);
    if (problem) return fail(run, new HostError(problem)).exitCode;
    run.logger.info(
      { holder },
      holder
        ? `another run is active (pid ${holder.pid}, started ${holder.startedAt}); exiting`
        : 'another run is active; exiting',
    );
    answerNoPass(run, { reason: 'locked', pid: holder?.pid ?? null, since: holder?.startedAt ?? null });
    return EXIT.ok;
  }
  try {
    // What a killed run left of its metrics rewrite goes once a run, under the lock, as STATE_DIR's does.
    const { metricsFile } = run.config;
    if (metricsFile) removeStaleTemps(dirname(metricsFile), basename(metricsFile));
    let ending: RunEnding;
    try {
      ending = await underLock(run);
    } catch (e) {
      ending = fail(run, e as Error);
    }
    return recordEnding(run, withOwnFileFailure(run, ending));
  } finally {
    await lock.release();
  }
}

/**
 * A log or journal write that failed after the pass was over (or with no pass at all) still ends the
 * run with its own code and line: the operator has a disk to see to.
 */
function withOwnFileFailure(run: SyncRun, ending: RunEnding): RunEnding {
  run.log.flush();
  const ownFile = run.stop.signal.reason;
  if (!(ownFile instanceof OwnFileError) || ending.exitCode === ownFile.exitCode) return ending;
  run.say(ownFile.message);
  return { exitCode: ownFile.exitCode, reason: ownFile.message };
}

/**
 * Keeps how the run ended, whatever the ending: a failed run is what monitoring most needs to see. The
 * metrics go first, since a metrics file that cannot be written fails a run that would have ended
 * well, and then last-run.json, which `status` reads. Either failing after the run had already failed
 * is only logged: the run's own failure is the one to report.
 */
function recordEnding(run: SyncRun, ending: RunEnding): number {
  const { logger, config, clock } = run;
  const stamps = { startedAt: clock.startedAt.toISOString(), finishedAt: new Date(clock.now()).toISOString() };
  const record = (e: RunEnding): LastRun => ({ ...stamps, ...e });
  const keep = (write: () => void, what: string): void => {
    try {
      write();
    } catch (e) {
      if (ending.exitCode === EXIT.ok) ending = fail(run, e as Error);
      else logger.warn({ error: (e as Error).message }, `cannot write the ${what}`);
    }
  };
  keep(() => publishMetrics(run, record(ending)), 'metrics file');
  keep(() => writeLastRun(config.stateDir, record(ending)), 'record of how the run ended');
  return ending.exitCode;
}

type NotDue = { reason: 'not-due'; dueAt: string };
type NoPass = NotDue | { reason: 'locked'; pid: number | null; since: string | null };

/**
 * A run that does no pass still answers where someone looks: --json prints its one object, a
 * terminal gets one line. Cron (no terminal, no --json) gets nothing, since it mails whatever a job prints.
 */
function answerNoPass(run: SyncRun, answer: NoPass): void {
  if (run.flags.json) process.stdout.write(`${JSON.stringify({ ran: false, ...answer, exitCode: EXIT.ok })}\n`);
  else if (process.stderr.isTTY) run.say(describeNoPass(answer, run.clock.now()));
}

function describeNoPass(answer: NoPass, now: number): string {
  if (answer.reason === 'not-due')
    return `no pass due until ${answer.dueAt} (in ${duration((Date.parse(answer.dueAt) - now) / 1000)}); --force starts one now`;
  return answer.pid === null
    ? 'another run is active; this one exits'
    : `another run is active (pid ${answer.pid}, since ${answer.since}); this one exits`;
}

async function underLock(run: SyncRun): Promise<RunEnding> {
  const { config, flags } = run;
  warnAboutSettings(run);
  // Dry runs and runs limited to some instances or tenants are not full passes: they neither wait for
  // pacing nor count as a pass, and they leave any unfinished full pass for the next cron run.
  const fullPass = !flags.dryRun && !flags.instance?.length && !flags.tenant?.length;
  let running: RunningPass | undefined;
  if (fullPass) {
    const store = new PassStateStore(config.stateDir, (message) => run.logger.warn(message));
    const identity = { appId: config.officeAppId, tenantType: passTenantType(config.tenantType) };
    const decision = decideRun(
      { running: false, ...store.runState() },
      { ...identity, minInterval: config.minIntervalSeconds },
      run.clock.now(),
    );
    const opened = openPass(run, store, decision, identity);
    if ('reason' in opened) {
      answerNoPass(run, opened);
      // What status shows later: a time left, or what to do now, would be stale by then.
      return { exitCode: EXIT.ok, reason: `no pass due until ${opened.dueAt}` };
    }
    running = opened;
    publishMetrics(run);
  }
  return runSyncPass(run, running);
}

/** Acts on the decision `status` announces: resume, start, or (not due, and no --force) nothing. */
function openPass(
  { logger, flags, clock, stop, scrubber }: SyncRun,
  store: PassStateStore,
  decision: PassDecision<PassHeader>,
  identity: Required<PassIdentity>,
): RunningPass | NotDue {
  const starts = decision.startsPass || flags.force === true;
  if ('clockBehind' in decision && decision.clockBehind)
    logger.warn(
      { lastStartedAt: decision.clockBehind.lastStartedAt },
      describeClockBehind(decision.clockBehind, clock.now()),
    );
  if (decision.reason !== 'resume' && decision.discard) {
    logger.warn(
      `unfinished pass in ${store.path(PASS_FILE)} ${describeDiscard(decision.discard)}; ${starts ? 'starting a fresh pass' : 'discarding it'}`,
    );
    store.discard();
  }
  if (!starts && decision.reason === 'not-due') {
    const dueAt = new Date(decision.dueAt).toISOString();
    logger.info({ dueAt }, `not due yet; next pass due at ${dueAt}`);
    return { reason: 'not-due', dueAt };
  }
  const resume = decision.reason === 'resume' ? decision.resume : undefined;
  return store.open(
    identity,
    clock,
    resume,
    (message) => scrubber.scrub(message),
    (error) => stop.because(error),
  );
}

/**
 * A person at a terminal sees progress and readable warnings; cron and --json see neither, nor load
 * them, nor does a run whose log is on stdout (the terminal shows the log itself).
 */
function terminalFor(flags: SyncFlags): { progress?: PassProgress; echo?: StreamEntry } {
  if (!process.stdout.isTTY || flags.json) return {};
  const { PassProgress } = require('./progress') as typeof import('./progress');
  const { terminalEcho } = require('./terminal-log') as typeof import('./terminal-log');
  const progress = new PassProgress(process.stderr);
  return { progress, echo: terminalEcho((text) => progress.log(text), process.stderr.hasColors?.() ?? false) };
}

/**
 * Rewrites the metrics file, if there is one, from the state files and how the last run ended (this
 * one's ending, or the record of the one before); a failure to is an OwnFileError.
 */
function publishMetrics({ config, logger }: SyncRun, lastRun?: LastRun): void {
  if (!config.metricsFile) return;
  const warn = (message: string): void => logger.warn(message);
  writeMetrics(
    config.metricsFile,
    new PassStateStore(config.stateDir, warn),
    lastRun ?? readLastRun(config.stateDir, warn),
  );
}

/** How long the last finished pass took, to tell a run that holds the lock from one that is stuck. */
function lastPassMs({ config, logger }: SyncRun): number | undefined {
  return new PassStateStore(config.stateDir, (message) => logger.warn(message)).lastPass()?.durationMs;
}

function fail(run: SyncRun, failure: Error): RunEnding {
  const error = openFilesLimit(failure) ?? failure;
  const code = exitCodeFor(error);
  run.logger.error(
    { code: errorCode(error), error: error.message, stack: code === EXIT.internal ? error.stack : undefined },
    'pass failed',
  );
  const line = withFix(error, run.config);
  run.say(line);
  return { exitCode: code, reason: run.scrubber.scrub(line) };
}

function warnAboutSettings({ config, logger }: SyncRun): void {
  const logDirDoubt = logDirWarning(config.logDir);
  if (logDirDoubt) logger.warn({ logDir: config.logDir }, logDirDoubt);
  if (config.envFile?.readableByOthers) {
    logger.warn(
      { envFile: config.envFile.path },
      `${config.envFile.path} can be read by group or others; it holds secrets: chmod 600 it`,
    );
  }
  if (config.apsTlsInsecure) logger.warn('APS_TLS_INSECURE=true: the controller certificate is NOT verified');
  for (const doubt of doubtfulSettings(config)) logger.warn(doubt);
}
