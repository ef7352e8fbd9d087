import type { Logger, StreamEntry } from 'pino';
import { loadConfig, type Config } from '../runtime/config';
import { openRunLog, type RunLog } from '../runtime/logger';
import { writeMetrics } from '../runtime/metrics';
import { PASS_FILE, PassStateStore, type PassHeader, type RunningPass } from '../runtime/pass-state';
import { acquireRunLock } from '../runtime/run-lock';
import { SecretScrubber } from '../runtime/secrets';
import { TraceFile } from '../runtime/trace-file';
import { trapSignals, type Signal } from '../runtime/shutdown';
import { fanOut } from '../sync/events';
import type { PassResult } from '../sync/pass';
import { decideRun, describeDiscard, type PassDecision, type PassIdentity } from '../sync/run-decision';
import { TenantTargets } from '../sync/targeted';
import { EXIT, exitCodeFor, exitCodeForPass, exitCodeForSignal } from './exit-codes';
import { errorCode, passLog } from './pass-log';
import type { PassProgress } from './progress';
import { reportPass } from './report';

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

interface Run {
  config: Config;
  log: RunLog;
  logger: Logger;
  scrubber: SecretScrubber;
  /** --trace: the HAR file every exchange goes to; it closes itself when the process exits. */
  trace?: TraceFile;
  flags: SyncFlags;
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
    scrubber.addCredentials(config.oaUser, config.oaPassword);
    const trace = flags.trace ? new TraceFile(flags.trace, { scrubber, maxEntries: config.traceMaxEntries, onError: say }) : undefined;
    const { progress, echo } = terminalFor(flags);
    const log = openRunLog(config.logDir, scrubber, config.logLevel, echo);
    run = { config, log, logger: log.logger, scrubber, trace, flags, progress, startedAt: new Date(), say };
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
  const { config, flags } = run;
  warnAboutSettings(run);
  // Dry runs and runs limited to some instances or tenants are not full passes: they neither wait for
  // pacing nor count as a pass, and they leave any unfinished full pass for the next cron run.
  const fullPass = !flags.dryRun && !flags.instance?.length && !flags.tenant?.length;
  let running: RunningPass | undefined;
  if (fullPass) {
    const store = new PassStateStore(config.stateDir, (message) => run.logger.warn(message));
    const identity = { appId: config.officeAppId, tenantType: config.tenantType };
    const decision = decideRun({ running: false, ...store.runState() }, { ...identity, minInterval: config.minIntervalSeconds }, run.startedAt.getTime());
    running = openPass(run, store, decision, identity);
    if (!running) return EXIT.ok;
    publishMetrics(run);
  }
  return passUnderLock(run, running);
}

/** Acts on the decision `status` announces: resume, start, or (not due, and no --force) nothing. */
function openPass({ logger, flags, startedAt }: Run, store: PassStateStore, decision: PassDecision<PassHeader>, identity: Required<PassIdentity>): RunningPass | undefined {
  const starts = decision.startsPass || flags.force === true;
  if (decision.reason !== 'resume' && decision.discard) {
    logger.warn(`unfinished pass in ${store.path(PASS_FILE)} ${describeDiscard(decision.discard)}; ${starts ? 'starting a fresh pass' : 'discarding it'}`);
    store.discard();
  }
  if (!starts && decision.reason === 'not-due') {
    const dueAt = new Date(decision.dueAt).toISOString();
    logger.info({ dueAt }, `not due yet; next pass due at ${dueAt}`);
    return undefined;
  }
  const resume = decision.reason === 'resume' ? decision.resume : undefined;
  return store.open(identity, startedAt, resume);
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
    { appId: config.officeAppId, dryRun, concurrency: config.concurrency, instances: flags.instance, resumed: running?.resumed ?? false, passStartedAt: running?.header.startedAt },
    running?.resumed ? 'pass resumed' : 'pass started',
  );
  // The network stack loads only now that a pass will really run.
  const { connect } = require('./clients') as typeof import('./clients');
  const { runPass } = require('../sync/pass') as typeof import('../sync/pass');
  (require('../runtime/heap-settings') as typeof import('../runtime/heap-settings')).settleHeapForPass();
  const clients = connect(config, run.scrubber, logger, stop.signal, run.trace);
  const targets = flags.tenant?.length ? new TenantTargets(flags.tenant) : undefined;
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
        events: fanOut(passLog(logger), run.progress?.events, { resyncAnswered: () => clients.limiter.succeeded() }),
        // Failure messages quote the remote, which may echo a token back; the state files must not keep it.
        journal: running && {
          isDone: (instanceId, tenantId) => running.isDone(instanceId, tenantId),
          recordDone: (instanceId, tenantId, outcome, message, lastSync) => running.recordDone(instanceId, tenantId, outcome, message && run.scrubber.scrub(message), lastSync),
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
  reportPass({ ...run, logPath: run.log.path, json: flags.json === true, dryRun }, result, exitCode, unresolved);
  return exitCode;
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
