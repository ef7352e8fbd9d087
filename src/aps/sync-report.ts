import { parseBoundedJson } from '../http/bounded-json';
import { ProtocolError } from '../errors';
import type { ResyncResult } from '../sync/ports';
import { excerpt } from '../http/remote-text';

/**
 * Reads the 2xx reply of a resync. The synchronous `synchronize` operation answers a report,
 * `{domains: [...], users: [...], AllUpdatesSucceeded}`, and a report saying false is the tenant's
 * failure even though the status is 200. The asynchronous operation answers 202 with no report, and a
 * configured operation may answer anything: any 2xx without a report is success (README.md here,
 * "Forcing a tenant's synchronization").
 */
type FailedObject = { objectName: string; comment: string | null };

/** The message goes on one log line; the full list stays in `failedObjects`. */
const MESSAGE_MAX = 1000;
const COMMENT_MAX = 200;

export function parseSyncReport(body: Buffer): ResyncResult {
  const report = jsonObject(body.toString('utf8').trim());
  if (!report || !Object.hasOwn(report, 'AllUpdatesSucceeded')) return { outcome: 'synced' };
  const verdict = report.AllUpdatesSucceeded;
  if (typeof verdict !== 'boolean') {
    throw new ProtocolError(
      'aps',
      `APS controller sent a synchronize report whose AllUpdatesSucceeded is ${excerpt(JSON.stringify(verdict), 50)}, not true or false`,
    );
  }
  if (verdict) return { outcome: 'synced' };
  // The verdict is what counts; entries that do not follow the format are ignored, not fatal.
  const entries = [report.domains, report.users].flatMap((list) => (Array.isArray(list) ? (list as unknown[]) : []));
  const failedObjects = entries.filter(isFailedEntry).map((e): FailedObject => ({
    objectName: typeof e.objectName === 'string' && e.objectName !== '' ? e.objectName : '(unnamed)',
    comment: typeof e.comment === 'string' ? e.comment : null,
  }));
  return { outcome: 'failed', message: failureMessage(failedObjects, entries.length), failedObjects };
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    return parseBoundedJson(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function isFailedEntry(entry: unknown): entry is Record<string, unknown> {
  return typeof entry === 'object' && entry !== null && (entry as Record<string, unknown>).success === false;
}

function failureMessage(failed: FailedObject[], total: number): string {
  if (failed.length === 0) return 'the controller reported that not all updates succeeded, naming no failed object';
  let message = `${failed.length} of ${total} objects failed: `;
  for (const [i, { objectName, comment }] of failed.entries()) {
    const part = excerpt(comment ? `${objectName}: ${comment}` : objectName, COMMENT_MAX);
    const rest = i + 1 < failed.length ? `; and ${failed.length - i - 1} more` : '';
    if (i > 0 && message.length + part.length + rest.length + 2 > MESSAGE_MAX) {
      return `${message}; and ${failed.length - i} more`;
    }
    message += (i > 0 ? '; ' : '') + part;
  }
  return message;
}
