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
