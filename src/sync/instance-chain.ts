import type { Instance, Tenant } from './ports';

/**
 * The tenants of a pass's instances as one stream, for one pool of workers across the pass. Taking
 * the instances one after another, each with a pool of its own, would empty the pool at every
 * instance's end, slot by slot, and leave it empty while the next instance's token and first page
 * came: many small instances would run almost one at a time.
 *
 * Here the next instance is opened (its token, its first page) while the current one's last tenants
 * are handed out, and its tenants follow straight on; the tail of one instance runs beside the head
 * of the next. What belongs to one instance (its token policy, counts, events) stays in its context.
 */
export interface InstanceLanes<C> {
  /** The instance's own state, before anything is asked of the remote. */
  prepare(instance: Instance): C;
  /** Its token, controller and listing. A failure here or in the listing ends only this instance. */
  open(context: C): Promise<AsyncIterable<Tenant>>;
  /** How many of its tenants the listing has still to hand out, when known. */
  tenantsLeft(context: C): number | undefined;
  /** Told once, in the instance's turn, if it could not be opened or its listing failed. */
  failed(context: C, error: Error): void;
  /** Its listing is over (or failed, or stopped) and every tenant it handed out has settled. */
  finished(context: C): void;
}

/** One instance in the chain; items carry it so that their settling is counted against it. */
export interface Lane<C> {
  readonly context: C;
  /** Tenants handed out and not yet settled. */
  inFlight: number;
  listingOver: boolean;
  opened: boolean;
  /** Its failure has been told. */
  failed: boolean;
  tenants?: AsyncIterator<Tenant>;
  /** The first page, asked for while the instance waited its turn. */
  first?: Promise<IteratorResult<Tenant>>;
  failure?: Error;
}

export interface LaneItem<C> {
  lane: Lane<C>;
  tenant: Tenant;
}

export class InstanceChain<C> implements AsyncIterable<LaneItem<C>>, AsyncIterator<LaneItem<C>> {
  private readonly waiting: Instance[];
  private current: Lane<C> | undefined;
  private ahead: Promise<Lane<C>> | undefined;

  constructor(
    instances: Instance[],
    private readonly lanes: InstanceLanes<C>,
    /**
     * How many tenants before the current instance's end the next one is opened: opening takes two
     * round trips (OA's token, the first page), in which each worker gets through about two tenants.
     */
    private readonly lead: () => number,
    private readonly stopped: () => boolean,
  ) {
    this.waiting = [...instances];
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<LaneItem<C>>> {
    for (;;) {
      if (!this.current) {
        // Ends an instance opened ahead too: the pool takes a `done` as the end and does not call return().
        if (this.stopped()) return this.return();
        const lane = await (this.ahead ?? this.openNext());
        this.ahead = undefined;
        if (!lane) return { done: true, value: undefined };
        this.current = lane;
        if (lane.failure) {
          this.endListing(lane, lane.failure);
          continue;
        }
      }
      const lane = this.current;
      let step: IteratorResult<Tenant>;
      try {
        step = await (lane.first ?? lane.tenants!.next());
        lane.first = undefined;
      } catch (e) {
        if (!lane.listingOver) this.endListing(lane, e as Error);
        continue;
      }
      // Abandoned while its page was on the way: the tenant is not handed out.
      if (lane.listingOver) continue;
      if (step.done) {
        this.endListing(lane);
        continue;
      }
      lane.inFlight++;
      if (!this.ahead && this.waiting.length > 0 && this.nearEnd(lane) && !this.stopped())
        this.ahead = this.openNext() as Promise<Lane<C>>;
      return { done: false, value: { lane, tenant: step.value } };
    }
  }

  /** A tenant handed out has been dealt with, whatever its outcome. */
  settled(lane: Lane<C>): void {
    lane.inFlight--;
    this.finishIfDone(lane);
  }

  /**
   * Ends an instance early from outside its listing: a tenant's failure that no other tenant of the
   * instance can get past. Its tenants in flight finish; its other tenants are not handed out.
   */
  abandon(lane: Lane<C>, error: Error): void {
    if (lane.failed) return;
    if (lane.listingOver) {
      // Its listing had ended, but its last tenants still run: the failure is told all the same.
      lane.failed = true;
      this.lanes.failed(lane.context, error);
      return;
    }
    // Its listing may be awaiting a page: the generator ends once that settles, whatever it brings.
    lane.tenants?.return?.().catch(() => undefined);
    this.endListing(lane, error);
  }

  /** The pool stopped pulling: the instance under way and one opened ahead end here. */
  async return(): Promise<IteratorResult<LaneItem<C>>> {
    const lane = this.current;
    if (lane && !lane.listingOver) {
      await lane.tenants?.return?.();
      this.endListing(lane);
    }
    const ahead = await this.ahead;
    this.ahead = undefined;
    // An instance opened ahead but never reached is the next run's; one that failed to open is not
    // reported, as the pass would not have tried it yet.
    if (ahead?.opened) {
      await ahead.tenants?.return?.();
      ahead.listingOver = true;
      this.lanes.finished(ahead.context);
    }
    return { done: true, value: undefined };
  }

  private nearEnd(lane: Lane<C>): boolean {
    const left = this.lanes.tenantsLeft(lane.context);
    return left !== undefined && left <= this.lead();
  }

  /** The next instance, opened and its first page asked for; undefined when none is left. */
  private async openNext(): Promise<Lane<C> | undefined> {
    const instance = this.waiting.shift();
    if (!instance) return undefined;
    const lane: Lane<C> = {
      context: this.lanes.prepare(instance),
      inFlight: 0,
      listingOver: false,
      opened: false,
      failed: false,
    };
    try {
      lane.tenants = (await this.lanes.open(lane.context))[Symbol.asyncIterator]();
      lane.opened = true;
      lane.first = lane.tenants.next();
      // Its failure is heard in the instance's turn, when next() awaits it.
      lane.first.catch(() => undefined);
    } catch (e) {
      lane.failure = e as Error;
    }
    return lane;
  }

  private endListing(lane: Lane<C>, error?: Error): void {
    lane.listingOver = true;
    lane.first = undefined;
    if (this.current === lane) this.current = undefined;
    if (error) {
      lane.failed = true;
      this.lanes.failed(lane.context, error);
    }
    this.finishIfDone(lane);
  }

  private finishIfDone(lane: Lane<C>): void {
    if (lane.listingOver && lane.inFlight === 0) this.lanes.finished(lane.context);
  }
}
