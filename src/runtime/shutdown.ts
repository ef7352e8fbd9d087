/**
 * SIGTERM, SIGINT and SIGHUP (a closed terminal, or a supervisor's reload): the first asks the run to
 * wind down (finish what is in flight, save state); a second one means "now", for an operator who
 * will not wait. The tool has nothing to reload, so SIGHUP is a stop like the others.
 */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
export type Signal = (typeof STOP_SIGNALS)[number];

export function trapSignals(first: (signal: Signal) => void, second: (signal: Signal) => void): () => void {
  let received = 0;
  const handler = (signal: Signal): void => {
    if (received++ === 0) first(signal);
    else second(signal);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, handler);
  return () => {
    for (const signal of STOP_SIGNALS) process.off(signal, handler);
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
