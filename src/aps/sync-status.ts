import { ProtocolError, traitsOf } from '../errors';
import { excerpt } from '../http/remote-text';
import type { SyncStatus } from '../sync/ports';
import { controllerJson } from './controller-json';

/**
 * Reads the reply of the tenant's `sync_status` operation (application 20.7.2 and later; README.md
 * here): `{"inProgress": <bool>, "lastSync": <int>}`. Anything else is a protocol error rather than a
 * guess, since a wrong guess would either hold a tenant back as busy or report a failure it did not have.
 */
export function parseSyncStatus(body: Buffer): SyncStatus {
  const { text, value: reply } = controllerJson(body, 'a sync status');
  const { inProgress, lastSync } = (typeof reply === 'object' && reply !== null ? reply : {}) as Record<
    string,
    unknown
  >;
  if (typeof inProgress !== 'boolean' || typeof lastSync !== 'number' || !Number.isInteger(lastSync)) {
    throw new ProtocolError(
      'aps',
      `APS controller sent a sync status without a boolean inProgress and a whole lastSync: '${excerpt(text, 80)}'`,
    );
  }
  return { inProgress, lastSync };
}

/** A refusal that says the controller has no such operation for the tenant becomes `undefined`; others stay errors. */
export function absentOnNoSuchOperation(e: unknown): undefined {
  if (traitsOf(e).noSuchOperation) return undefined;
  throw e;
}
