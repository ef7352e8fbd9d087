import type { Logger } from 'pino';
import type { PassEvents } from '../sync/ports';

/** The pass's events as JSON log lines: per instance, per failed or skipped tenant, per renewal. */
export function passLog(logger: Logger): PassEvents {
  return {
    instancesListed: (instances) => logger.info({ instances: instances.map((i) => i.id) }, 'instances listed'),
    instanceListedTwice: (i) =>
      logger.warn({ instanceId: i.id }, `OA listed instance ${i.id} more than once; it is walked once`),
    instanceStarted: (i) => logger.info({ instanceId: i.id, resourceId: i.resourceId }, 'instance started'),
    tenantTypes: (i, types) => {
      if (types.source === 'fallback')
        logger.warn(
          { instanceId: i.id, listed: types.listed, reason: types.unreadable },
          `the types library could not tell the tenant types (${types.unreadable}): walking ${types.listed.join(', ')}; set APS_TENANT_TYPE to this installation's tenant type`,
        );
      else
        logger.info(
          { instanceId: i.id, source: types.source, listed: types.listed, found: types.found },
          'tenant types',
        );
    },
    instanceFinished: (i, counts) => logger.info({ instanceId: i.id, ...counts }, 'instance finished'),
    instanceFailed: (i, error) =>
      logger.error({ instanceId: i.id, code: errorCode(error), error: error.message }, 'instance failed'),
    tokenRenewed: (i, reason) => logger.debug({ instanceId: i.id, reason }, 'token renewed'),
    tenantFailed: (i, t, message, failedObjects) =>
      logger.warn(
        { instanceId: i.id, tenantId: t.id, error: message, ...(failedObjects ? { failedObjects } : {}) },
        'tenant failed',
      ),
    tenantSkipped: (i, t, message) =>
      logger.info({ instanceId: i.id, tenantId: t.id, reason: message }, 'tenant skipped'),
    listingItemInvalid: (i, reason) => logger.warn({ instanceId: i.id, reason }, 'listing item skipped'),
    wouldResync: (i, t) => logger.info({ instanceId: i.id, tenantId: t.id }, 'dry run: would resync tenant'),
    tenantBusy: (i, t) =>
      logger.info({ instanceId: i.id, tenantId: t.id }, 'tenant busy: its last synchronization is still in progress'),
    lastSyncFailed: (i, t, lastSync) =>
      logger.warn({ instanceId: i.id, tenantId: t.id, lastSync }, "tenant's last synchronization failed"),
    syncStatusMissing: (i) =>
      logger.info(
        { instanceId: i.id },
        'the application of this instance has no sync status operation (before 20.7.2); its tenants are resynced without reading it',
      ),
  };
}

export function errorCode(error: Error): string | undefined {
  return (error as { code?: string }).code;
}
