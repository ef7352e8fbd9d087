import { sortsAfter } from '../sync/tenant-order';
import type { ResumePoint } from '../sync/ports';

/**
 * How far a pass has got through one instance, in a size that does not grow with the instance.
 *
 * The walk hands tenants out in strictly increasing id order (src/sync/tenant-order.ts), and workers
 * finish them in any order. The cursor is the highest id such that every tenant handed out up to it
 * is done; the few done out of order beyond it are kept by id. A resumed pass walks on after the
 * cursor and passes over those few when it meets them. A tenant that is slow to finish holds the
 * cursor, so the tenants done beyond it are as many as finish meanwhile: a handful with workers in
 * flight, a few more while a tenant waits out its retries. A tenant the controller failed (a
 * timeout, a 503 after retries) counts as done here, so it never holds the cursor for long: the
 * record keeps it apart, to be retried when the pass resumes (pass-record.ts).
 *
 * The same cursor is moved two ways: live, by the walk (`handOut`, `done`), and when a journal is
 * read back, by the lines a live cursor wrote (`replay`).
 */

/** What the journal keeps of one instance. */
export interface CursorState {
  /** Every tenant the walk met up to this id is done; absent: none yet. */
  through?: string;
  /** About where the listing had `through`: where a resumed walk asks first. */
  near?: number;
  /** Done beyond `through`. */
  beyond: string[];
}

interface Handed {
  id: string;
  near: number;
  done: boolean;
}

export class InstanceCursor {
  private through: string | undefined;
  private near: number | undefined;
  /** Done beyond the cursor in an earlier run, as the journal tells them; sorted into `earlier` when first needed. */
  private readonly restored: Set<string>;
  /** Done in an earlier run beyond the cursor and not met yet in this one, in id order from `next`. */
  private sorted: string[] | undefined;
  private next = 0;
  /** Handed out in this run and not yet behind the cursor, in the order the walk handed them out. */
  private open: Handed[] = [];
  private head = 0;
  private readonly waiting = new Map<string, Handed>();
  /** Listing position of the next tenant handed out: a hint, counted from where the walk started. */
  private place: number | undefined;

  constructor(state: CursorState = { beyond: [] }) {
    this.through = state.through;
    this.near = state.near;
    this.restored = new Set(state.beyond);
  }

  /**
   * A journal line read back: `tenantId` was done, and the cursor was then at `through` (absent: it
   * did not move). Only before the walk starts; ids now behind the cursor are dropped when it does.
   */
  replay(tenantId: string | undefined, through: string | undefined, near: number | undefined): void {
    if (tenantId !== undefined) this.restored.add(tenantId);
    if (through === undefined) return;
    this.through = through;
    this.near = near;
  }

  private get earlier(): string[] {
    this.sorted ??= [...this.restored].filter((id) => this.isBeyond(id)).sort((a, b) => (sortsAfter(a, b) ? 1 : -1));
    return this.sorted;
  }

  /** Where a resumed walk starts; undefined: from the beginning. */
  resumePoint(): ResumePoint | undefined {
    return this.through === undefined ? undefined : { id: this.through, near: this.near ?? 0 };
  }

  /**
   * A tenant the walk handed out (in increasing id order). True when an earlier run already did it:
   * it is passed over, and counts as done here. Returns whether the cursor moved, too.
   */
  handOut(id: string): { alreadyDone: boolean; moved: boolean } {
    // The walk starts after the cursor; a listing that does not (a targeted run's) meets it again.
    if (!this.isBeyond(id)) return { alreadyDone: true, moved: false };
    // Tenants done earlier that sort before this one were removed meanwhile: the walk will not meet them.
    while (this.next < this.earlier.length && sortsAfter(id, this.earlier[this.next])) this.next++;
    const alreadyDone = this.earlier[this.next] === id;
    if (alreadyDone) this.next++;
    this.place ??= this.through === undefined ? 0 : (this.near ?? 0) + 1;
    const entry: Handed = { id, near: this.place++, done: alreadyDone };
    this.open.push(entry);
    if (!alreadyDone) this.waiting.set(id, entry);
    return { alreadyDone, moved: this.advance() };
  }

  /** A tenant handed out in this run is done; true when that moved the cursor. */
  done(id: string): boolean {
    const entry = this.waiting.get(id);
    if (!entry) return false;
    this.waiting.delete(id);
    entry.done = true;
    return this.advance();
  }

  get cursor(): string | undefined {
    return this.through;
  }

  get cursorNear(): number | undefined {
    return this.near;
  }

  state(): CursorState {
    const beyond = this.open
      .slice(this.head)
      .filter((h) => h.done)
      .map((h) => h.id);
    beyond.push(...this.earlier.slice(this.next));
    return { ...(this.through === undefined ? {} : { through: this.through, near: this.near }), beyond };
  }

  private isBeyond(id: string): boolean {
    return this.through === undefined || sortsAfter(id, this.through);
  }

  private advance(): boolean {
    const from = this.head;
    while (this.head < this.open.length && this.open[this.head].done) {
      this.through = this.open[this.head].id;
      this.near = this.open[this.head].near;
      this.head++;
    }
    const moved = this.head !== from;
    // Drop what is behind the cursor now and then, so the queue holds only what is still open.
    if (this.head > 1024 && this.head * 2 > this.open.length) {
      this.open = this.open.slice(this.head);
      this.head = 0;
    }
    return moved;
  }
}
