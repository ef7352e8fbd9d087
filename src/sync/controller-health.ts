import { BacksyncError, ControllerDownError, openFilesLimit } from '../errors';

/**
 * Counts failures in a row that were not about any one tenant; too many means the controller is down.
 * A failure of this host (the open-files limit) ends the pass as itself: no remote is to blame.
 */
export class ControllerHealth {
  private consecutive = 0;
  down: ControllerDownError | BacksyncError | undefined;

  constructor(private readonly limit: number) {}

  success(): void {
    this.consecutive = 0;
  }

  generalFailure(e: Error): void {
    if (++this.consecutive >= this.limit && !this.down) this.down = new ControllerDownError(this.consecutive, e);
  }

  unreachable(instanceId: number, e: Error): void {
    this.down ??= new ControllerDownError(++this.consecutive, e, instanceId);
  }

  hostFailure(e: Error): void {
    this.down ??= e instanceof BacksyncError ? e : openFilesLimit(e);
  }
}
