import type { Logger, StreamEntry } from 'pino';
import { ConfigError } from '../errors';
import { loadConfig, type Config } from '../runtime/config';
import { openRunLog, type RunLog } from '../runtime/logger';
import { writeMetrics } from '../runtime/metrics';
import { PassStateStore, type RunningPass } from '../runtime/pass-state';
import { acquireRunLock } from '../runtime/run-lock';
import { SecretScrubber } from '../runtime/secrets';
import { trapSignals, type Signal } from '../runtime/shutdown';
import { nextDueAt } from '../sync/pacing';
import type { PassResult } from '../sync/pass';
import { TenantTargets, type UnresolvedTenant } from '../sync/targeted';
import { EXIT, exitCodeFor, exitCodeForPass, exitCodeForSignal } from './exit-codes';
import { errorCode, passLog } from './pass-log';
import type { PassProgress } from './progress';
import { formatSummary, summarize, type RunSummary } from './summary';

export interface SyncFlags {
  envFile?: string;
  json?: boolean;
  dryRun?: boolean;
  force?: boolean;
  concurrency?: string;
  instance?: string[];
  tenant?: string[];
  logDir?: string;
  stateDir?: string;
  metricsFile?: string;
}

interface Run {
  config: Config;
  log: RunLog;
  logger: Logger;
  scrubber: SecretScrubber;
  flags: SyncFlags;
  instances?: number[];
  tenants?: string[];
  /** Live progress on the terminal: interactive runs only. */
  progress?: PassProgress;
  startedAt: Date;
  say(line: string): void;
}

/**
 * `sync`: settings, then the lock, then pacing and resume, then the pass. Everything before the pass
 * is local and cheap, so the runs cron starts every minute that find another run active, or no pass
 * due, cost almost nothing and touch no network. Returns the exit code.
 */
export async function syncCommand(flags: SyncFlags): Promise<number> {
  const scrubber = new SecretScrubber();
  const say = (line: string): void => void process.stderr.write(`o365-backsync: ${scrubber.scrub(line)}\n`);
  let run: Run;
  try {
    const config = loadConfig({
      envFile: flags.envFile,
      flags: { SYNC_CONCURRENCY: flags.concurrency, LOG_DIR: flags.logDir, STATE_DIR: flags.stateDir, METRICS_FILE: flags.metricsFile },
    });
    scrubber.add(config.oaPassword);
    const instances = flags.instance?.map(parseInstanceId);
    const tenants = flags.tenant?.map(parseTenantId);
    const { progress, echo } = terminalFor(flags);
    const log = openRunLog(config.logDir, scrubber, config.logLevel, echo);
    run = { config, log, logger: log.logger, scrubber, flags, instances, tenants, progress, startedAt: new Date(), say };
  } catch (e) {
    say((e as Error).message);
    return exitCodeFor(e);
  }
  try {
    const lock = await acquireRunLock(run.config.stateDir, run.startedAt);
    if (!lock.acquired) {
      run.logger.info({ holder: lock.holder }, lock.holder ? `another run is active (pid ${lock.holder.pid}, started ${lock.holder.startedAt}); exiting` : 'another run is active; exiting');
      return EXIT.ok;
    }
    try {
      return await underLock(run);
    } finally {
      publishMetrics(run);
      await lock.release();
    }
  } catch (e) {
    return fail(run, e as Error);
  } finally {
    run.log.flush();
  }
}

async function underLock(run: Run): Promise<number> {
  const { config, logger, flags } = run;
  warnAboutSettings(run);
  // Dry runs and runs limited to some instances or tenants are not full passes: they neither wait for
  // pacing nor count as a pass, and they leave any unfinished full pass for the next cron run.
  const fullPass = !flags.dryRun && !run.instances?.length && !run.tenants?.length;
  const store = new PassStateStore(config.stateDir, (message) => logger.warn(message));
  let running: RunningPass | undefined;
  if (fullPass) {
    const unfinished = store.unfinished(config.officeAppId);
    if (!unfinished && !flags.force) {
      const dueAt = nextDueAt(store.lastPass(), config.minIntervalSeconds);
      if (dueAt !== undefined && dueAt > run.startedAt.getTime()) {
        logger.info({ dueAt: new Date(dueAt).toISOString() }, `not due yet; next pass due at ${new Date(dueAt).toISOString()}`);
        return EXIT.ok;
      }
    }
    running = store.open(config.officeAppId, run.startedAt, unfinished);
    publishMetrics(run);
  }
  return passUnderLock(run, running);
}

async function passUnderLock(run: Run, running: RunningPass | undefined): Promise<number> {
  const { config, logger, flags } = run;
  const dryRun = flags.dryRun === true;
  const stop = new AbortController();
  let stoppedBy: Signal | undefined;
  const untrap = trapSignals(
    (signal) => {
      stoppedBy = signal;
      logger.info({ signal }, `${signal} received: finishing the tenants in flight, then saving state`);
      stop.abort();
    },
    (signal) => {
      logger.warn({ signal }, `second ${signal}: exiting now; the journal is saved and the next run resumes`);
      running?.flush();
      run.log.flush();
      process.exit(exitCodeForSignal(signal));
    },
  );
  logger.info(
    { appId: config.officeAppId, dryRun, concurrency: config.concurrency, instances: run.instances, resumed: running?.resumed ?? false, passStartedAt: running?.header.startedAt },
    running?.resumed ? 'pass resumed' : 'pass started',
  );
  // The network stack loads only now that a pass will really run.
  const { connect } = require('./clients') as typeof import('./clients');
  const { runPass } = require('../sync/pass') as typeof import('../sync/pass');
  (require('../runtime/heap-settings') as typeof import('../runtime/heap-settings')).settleHeapForPass();
  const clients = connect(config, run.scrubber, logger, stop.signal);
  const targets = run.tenants?.length ? new TenantTargets(run.tenants) : undefined;
  let result: PassResult;
  try {
    result = await runPass(
      {
        appId: config.officeAppId,
        concurrency: config.concurrency,
        dryRun,
        tokenRefreshEvery: config.tokenRefreshEvery,
        tokenMaxAgeMs: config.tokenMaxAgeMs,
        maxConsecutiveFailures: config.maxConsecutiveFailures,
        instances: run.instances,
      },
      {
        directory: clients.directory,
        controllerFor: targets ? targets.controllerFor(clients.controllerFor) : clients.controllerFor,
        events: { ...passLog(logger), ...run.progress?.events, resyncAnswered: () => clients.limiter.succeeded() },
        // Failure messages quote the remote, which may echo a token back; the state files must not keep it.
        journal: running && {
          isDone: (instanceId, tenantId) => running.isDone(instanceId, tenantId),
          recordDone: (instanceId, tenantId, outcome, message) => running.recordDone(instanceId, tenantId, outcome, message && run.scrubber.scrub(message)),
        },
        stop: stop.signal,
        concurrency: () => clients.limiter.current,
      },
    );
  } catch (e) {
    running?.suspend();
    throw e;
  } finally {
    untrap();
    run.progress?.stop();
    await clients.close();
  }

  if (result.interruptedBy) running?.suspend();
  else running?.finish({ instances: result.instances, tokenRefreshes: result.tokenRefreshes, complete: result.instanceFailures.length === 0 });
  result.alreadyDone = running?.prior.tenants ?? 0;
  const unresolved = targets?.unresolved() ?? [];
  for (const u of unresolved) logger.warn(u, 'tenant not resynced');
  let exitCode = stoppedBy ? exitCodeForSignal(stoppedBy) : exitCodeForPass(result);
  // An asked-for tenant that was not resynced is a tenant that failed.
  if (unresolved.length && exitCode === EXIT.ok) exitCode = EXIT.tenantsFailed;
  report(run, result, exitCode, unresolved);
  return exitCode;
}

function report(run: Run, result: PassResult, exitCode: number, unresolved: UnresolvedTenant[]): void {
  const summary: RunSummary = {
    ...summarize(result, run.startedAt.getTime(), Date.now(), run.flags.dryRun === true, exitCode),
    ...(unresolved.length ? { notResynced: unresolved } : {}),
  };
  run.logger.info(summary, 'pass finished');
  if (run.flags.json) process.stdout.write(`${run.scrubber.scrub(JSON.stringify(summary))}\n`);
  else if (process.stdout.isTTY) process.stdout.write(`${run.scrubber.scrub(formatSummary(summary, run.log.path))}\n`);
  if (exitCode !== EXIT.ok && !process.stdout.isTTY) run.say(problemLine(result, unresolved, run.log.path));
}

/** A person at a terminal sees progress and readable warnings; cron and --json see neither, nor load them. */
function terminalFor(flags: SyncFlags): { progress?: PassProgress; echo?: StreamEntry } {
  if (!process.stdout.isTTY || flags.json) return {};
  const { PassProgress } = require('./progress') as typeof import('./progress');
  const { terminalEcho } = require('./terminal-log') as typeof import('./terminal-log');
  const progress = new PassProgress(process.stderr);
  return { progress, echo: terminalEcho((text) => progress.log(text), process.stderr.hasColors?.() ?? false) };
}

/** Rewrites the metrics file, if there is one, from the state files; a failure to is only a warning. */
function publishMetrics({ config, logger }: Run): void {
  if (!config.metricsFile) return;
  try {
    writeMetrics(config.metricsFile, new PassStateStore(config.stateDir, (message) => logger.warn(message)));
  } catch (e) {
    logger.warn({ metricsFile: config.metricsFile, error: (e as Error).message }, `cannot write the metrics file ${config.metricsFile}`);
  }
}

function fail(run: Run, error: Error): number {
  const code = exitCodeFor(error);
  run.logger.error({ code: errorCode(error), error: error.message, stack: code === EXIT.internal ? error.stack : undefined }, 'pass failed');
  run.say(error.message);
  return code;
}

function warnAboutSettings({ config, logger }: Run): void {
  if (config.envFile?.readableByOthers) {
    logger.warn({ envFile: config.envFile.path }, `${config.envFile.path} can be read by group or others; it holds secrets: chmod 600 it`);
  }
  if (config.apsTlsInsecure) logger.warn('APS_TLS_INSECURE=true: the controller certificate is NOT verified');
}

/** The one line cron mails when a pass did not fully succeed. */
function problemLine(result: PassResult, unresolved: UnresolvedTenant[], logPath: string): string {
  if (result.interruptedBy instanceof Error) return result.interruptedBy.message;
  if (result.interruptedBy === 'signal') return `stopped by a signal after ${result.tenants} tenants; the next run resumes the pass`;
  const first = result.instanceFailures[0];
  if (first) return `instance ${first.instanceId}: ${first.error.message}`;
  if (unresolved[0] && !result.failed) return `tenant ${unresolved[0].tenantId} ${unresolved[0].reason}${unresolved.length > 1 ? ` (and ${unresolved.length - 1} more; details in ${logPath})` : ''}`;
  return `${result.failed} of ${result.tenants} tenants failed; details in ${logPath}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseTenantId(value: string): string {
  if (!UUID.test(value)) throw new ConfigError('--tenant', `must be a tenant's APS resource id (a UUID), got '${value}'`);
  return value.toLowerCase();
}

function parseInstanceId(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new ConfigError('--instance', `must be an instance id (a whole number), got '${value}'`);
  }
  return Number(value);
}
