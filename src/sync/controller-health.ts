import { ControllerDownError } from '../errors';

/** Counts failures in a row that were not about any one tenant; too many means the controller is down. */
export class ControllerHealth {
  private consecutive = 0;
  down: ControllerDownError | undefined;

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
}
