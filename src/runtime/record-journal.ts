import type { PassJournal, ResumePoint } from '../sync/ports';
import type { TenantOutcome } from '../sync/counts';
import type { InstanceCursor } from './pass-cursor';
import type { JournalLine } from './pass-journal';
import type { PassRecord } from './pass-record';

/**
 * The pass's journal over its record, in memory: moves each instance's cursor as tenants are handed
 * out and done, counts them, and gives `write` the line the journal file needs for each change
 * (pass-journal.ts). Plain logic, so that resuming is tested without a filesystem.
 */
export class RecordJournal implements PassJournal {
  constructor(
    readonly record: PassRecord,
    private readonly write: (line: JournalLine) => void,
  ) {}

  resumePoint(instanceId: number): ResumePoint | undefined {
    return this.record.cursor(instanceId).resumePoint();
  }

  handOut(instanceId: number, tenantId: string): boolean {
    const cursor = this.record.cursor(instanceId);
    const { alreadyDone, moved } = cursor.handOut(tenantId);
    if (moved) this.write({ i: instanceId, ...cursorLine(cursor) });
    return alreadyDone;
  }

  recordDone(instanceId: number, tenantId: string, outcome: TenantOutcome, message?: string, lastSync?: number): void {
    if (outcome === 'planned') return;
    this.record.add(instanceId, tenantId, outcome, message, lastSync);
    const cursor = this.record.cursor(instanceId);
    const moved = cursor.done(tenantId);
    this.write({
      i: instanceId,
      t: tenantId,
      o: outcome,
      ...(message ? { m: message } : {}),
      ...(lastSync !== undefined ? { l: lastSync } : {}),
      ...(moved ? cursorLine(cursor) : {}),
    });
  }
}

function cursorLine(cursor: InstanceCursor): Pick<JournalLine, 'c' | 'n'> {
  return { c: cursor.cursor, n: cursor.cursorNear };
}
