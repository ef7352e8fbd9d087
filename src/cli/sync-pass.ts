import type { Logger } from 'pino';
import type { Config } from '../runtime/config';
import type { RunLog } from '../runtime/logger';
import type { RunningPass } from '../runtime/pass-state';
import type { RunClock } from '../runtime/run-clock';
import type { SecretScrubber } from '../runtime/secrets';
import type { TraceFile } from '../runtime/trace-file';
import { type RunStop, trapSignals } from '../runtime/shutdown';
import { rememberedTokenLifetime } from '../runtime/token-lifetime-file';
import { fanOut } from '../sync/events';
import { isComplete, type PassResult } from '../sync/pass';
import { TenantTargets } from '../sync/targeted';
import { exitCodeForRun, exitCodeForSignal } from './exit-codes';
import { passLog } from './pass-log';
import type { PassProgress } from './progress';
import { reportPass, type PlannedResync } from './report';
import type { RunEnding } from './sync-command';

/** What `sync` flags and settings a run carries into its pass. */
export interface SyncFlags {
  envFile?: string;
  json?: boolean;
  dryRun?: boolean;
  force?: boolean;
  concurrency?: string;
  /** Parsed by their argParsers (flags.ts). */
  instance?: number[];
  tenant?: string[];
  logDir?: string;
  stateDir?: string;
  metricsFile?: string;
  trace?: string;
}

export interface SyncRun {
  /** Raised by a signal, or by a file of ours that cannot be written (the log, the journal). */
  stop: RunStop;
  config: Config;
  log: RunLog;
  logger: Logger;
  scrubber: SecretScrubber;
  /** --trace: the HAR file every exchange goes to; it closes itself when the process exits. */
  trace?: TraceFile;
  flags: SyncFlags;
  /** Live progress on the terminal: interactive runs only. */
  progress?: PassProgress;
  /** When the run started (stamps) and how long it has worked (durations). */
  clock: RunClock;
  say(line: string): void;
}

/**
 * The pass of a `sync` run, once the lock is held and the decision made: signals trapped, the network
 * stack loaded, the pass run, its state saved (suspended for the next run, or finished), and the
 * outcome reported. Returns the exit code.
 */
export async function runSyncPass(run: SyncRun, running: RunningPass | undefined): Promise<RunEnding> {
  const { logger, stop } = run;
  // Trapped until the run's very end: a SIGTERM while the state is saved must not end it by default.
  const untrap = trapSignals(
    (signal) => {
      logger.info({ signal }, `${signal} received: finishing the tenants in flight, then saving state`);
      stop.because(signal);
    },
    (signal) => {
      logger.warn({ signal }, `second ${signal}: exiting now; the journal is saved and the next run resumes`);
      running?.flush();
      run.log.flush();
      process.exit(exitCodeForSignal(signal));
    },
  );
  try {
    return await passAndEnding(run, running);
  } finally {
    untrap();
  }
}

async function passAndEnding(run: SyncRun, running: RunningPass | undefined): Promise<RunEnding> {
  const { config, logger, flags, stop } = run;
  const dryRun = flags.dryRun === true;
  logger.info(
    {
      appId: config.officeAppId,
      dryRun,
      concurrency: config.concurrency,
      instances: flags.instance,
      resumed: running?.resumed ?? false,
      passStartedAt: running?.header.startedAt,
    },
    running?.resumed ? 'pass resumed' : 'pass started',
  );
  // The network stack loads only now that a pass will really run.
  const { connect } = require('./clients') as typeof import('./clients');
  const { runPass } = require('../sync/pass') as typeof import('../sync/pass');
  const clients = connect(config, run.scrubber, logger, stop.signal, run.trace);
  const targets = flags.tenant?.length ? new TenantTargets(flags.tenant) : undefined;
  const wouldResync: PlannedResync[] = [];
  const listPlanned = dryRun && (flags.json === true || (process.stdout.isTTY && !run.log.onStdout));
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
        instances: flags.instance,
      },
      {
        directory: clients.directory,
        controllerFor: targets ? targets.controllerFor(clients.controllerFor) : clients.controllerFor,
        events: fanOut(
          passLog(logger),
          run.progress?.events,
          { resyncAnswered: () => clients.limiter.succeeded() },
          listPlanned ? { wouldResync: (i, t) => wouldResync.push({ instanceId: i.id, tenantId: t.id }) } : undefined,
        ),
        journal: running,
        stop: stop.signal,
        concurrency: () => clients.limiter.current,
        tokenLifetime: rememberedTokenLifetime(config.stateDir, config.tokenMaxAgeMs, logger),
      },
    );
  } catch (e) {
    running?.suspend();
    throw e;
  } finally {
    run.progress?.stop();
    await clients.close();
  }

  if (result.interruptedBy) running?.suspend();
  else
    running?.finish({
      instances: result.instances,
      tokenRefreshes: result.tokenRefreshes,
      complete: isComplete(result),
      invalid: result.invalid,
    });
  result.alreadyDone = running?.prior.tenants ?? 0;
  const unresolved = targets?.unresolved() ?? [];
  for (const u of unresolved) logger.warn(u, 'tenant not resynced');
  const exitCode = exitCodeForRun(result, stop.bySignal, unresolved.length);
  const reason = reportPass(
    { ...run, logPath: run.log.path, logOnStdout: run.log.onStdout, json: flags.json === true, dryRun },
    result,
    exitCode,
    unresolved,
    wouldResync,
  );
  return { exitCode, reason };
}
