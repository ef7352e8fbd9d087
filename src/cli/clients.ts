import { ApsClient } from '../aps/client';
import { traitsOf, type NetworkError } from '../errors';
import { type ExchangeObserver, Transport } from '../http/transport';
import { trustFix } from '../http/trust';
import { OaClient } from '../oa/client';
import type { Logger } from 'pino';
import type { Config } from '../runtime/config';
import type { SecretScrubber } from '../runtime/secrets';
import { AdaptiveConcurrency } from '../sync/adaptive-concurrency';
import type { Instance, InstanceDirectory, InstanceToken } from '../sync/ports';

export interface Clients {
  directory: InstanceDirectory;
  /** The APS client itself, so that `check` can ask it what a pass does not (the tenant types, their counts). */
  controllerFor(instance: Instance, token: InstanceToken): ApsClient;
  /** How many tenants to run at once: lowered when the controller throttles, up to SYNC_CONCURRENCY. */
  limiter: AdaptiveConcurrency;
  close(): Promise<void>;
}

/**
 * Builds the OA and APS adapters from the settings. Every token OA issues is handed to the scrubber
 * before anyone can log it. `trace` (--trace) is told about every exchange with OA and the controllers.
 */
export function connect(
  config: Config,
  scrubber: SecretScrubber,
  logger: Logger,
  stop?: AbortSignal,
  trace?: ExchangeObserver,
): Clients {
  const oa = new OaClient(config, trace, stop, (error, attempt, delayMs) =>
    logger.warn(
      { error: error.message, attempt, delayMs },
      retryLine(`OA at ${config.oaHost}:${config.oaPort}`, error, attempt, config.retries, delayMs),
    ),
  );
  const directory: InstanceDirectory = {
    listInstances: (appId) => oa.listInstances(appId),
    issueToken: async (instanceId) => {
      const token = await oa.issueToken(instanceId);
      scrubber.add(token.token);
      return token;
    },
  };
  const transport = new Transport({
    remote: 'aps',
    connections: config.concurrency,
    connectTimeoutMs: config.connectTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    maxBodyBytes: config.maxBodyBytes,
    caFile: config.apsCaFile,
    insecure: config.apsTlsInsecure,
    pinSha256: config.apsCertSha256,
    tlsFix: `${trustFix('APS_CA_FILE', config.apsCaFile, 'controller certificate')} (or pin it with APS_CERT_SHA256)`,
    pinFix:
      'APS_CERT_SHA256 pins another certificate; if the controller certificate was replaced on purpose, pin the new one',
    observer: trace,
  });
  const limiter = new AdaptiveConcurrency({
    ceiling: config.concurrency,
    onChange: (change) =>
      logger.info(
        change,
        `concurrency ${change.reason === 'throttled' ? 'lowered' : 'raised'} from ${change.from} to ${change.to}`,
      ),
  });
  return {
    directory,
    limiter,
    controllerFor: (_instance, token) =>
      new ApsClient(transport, {
        baseUrl: controllerUrl(config, token),
        tenantType: config.tenantType,
        pageSize: config.pageSize,
        resyncOperation: config.resyncOperation,
        resyncMethod: config.resyncMethod,
        syncStatusOperation: config.syncStatusOperation,
        retries: config.retries,
        retryMaxDelayMs: config.retryMaxDelayMs,
        onRetry: (error, attempt, delayMs) => {
          // A controller that does not answer is worth a line (a terminal shows it); one that asks us
          // to slow down is answered by the limiter, and every tenant's retry would flood the log.
          if (traitsOf(error).code === 'OBS_ERR_NETWORK') {
            const where = `controller at ${new URL((error as NetworkError).url).host}`;
            logger.warn(
              { error: error.message, attempt, delayMs },
              retryLine(where, error, attempt, config.retries, delayMs),
            );
          } else logger.debug({ error: error.message, attempt, delayMs }, 'retrying a controller request');
          if (traitsOf(error).throttling) limiter.throttled();
        },
        stop,
      }),
    close: async () => {
      await Promise.all([oa.close(), transport.close()]);
    },
  };
}

/**
 * One line per retry, so a person at a terminal sees why nothing moves rather than minutes of silence:
 * "OA at 10.0.0.5:8440 not answering; retry 2 of 3 in 8 s".
 */
function retryLine(who: string, error: Error, attempt: number, retries: number, delayMs: number): string {
  const state = traitsOf(error).code === 'OBS_ERR_NETWORK' ? 'not answering' : 'failed';
  return `${who} ${state}; retry ${attempt} of ${retries} in ${Math.round(delayMs / 100) / 10} s`;
}

/** APS_URL wins; otherwise where OA says the instance's controller is; otherwise the usual port. */
export function controllerUrl(config: Config, token: InstanceToken): string {
  return config.apsUrl ?? token.controllerUri ?? `https://${config.oaHost}:6308/`;
}
