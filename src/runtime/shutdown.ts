/**
 * SIGTERM and SIGINT: the first asks the run to wind down (finish what is in flight, save state); a
 * second one means "now", for an operator who will not wait.
 */
export type Signal = 'SIGTERM' | 'SIGINT';

export function trapSignals(first: (signal: Signal) => void, second: (signal: Signal) => void): () => void {
  let received = 0;
  const handler = (signal: Signal): void => {
    if (received++ === 0) first(signal);
    else second(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}

/**
 * Asks a pass to stop starting tenants, for the first of two reasons: a signal, or one of our errors
 * that makes going on pointless (a file of ours that cannot be written). The pass reads the reason
 * from `signal.reason`; the first one given stays.
 */
export class RunStop {
  private readonly controller = new AbortController();
  bySignal: Signal | undefined;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  because(reason: Signal | Error): void {
    if (this.controller.signal.aborted) return;
    if (typeof reason === 'string') this.bySignal = reason;
    this.controller.abort(typeof reason === 'string' ? undefined : reason);
  }
}
