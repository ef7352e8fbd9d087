import { closeSync, openSync, writeSync } from 'node:fs';
import { BODY_LIMIT, harEntry, PLACEHOLDER } from './har';
import type { Exchange, ExchangeObserver } from '../http/transport';
import { ConfigError } from '../errors';
import type { SecretScrubber } from './secrets';

export interface TraceOptions {
  scrubber: SecretScrubber;
  /** Exchanges recorded; later ones are only counted (TRACE_MAX_ENTRIES). */
  maxEntries: number;
  /** Told once when the file cannot be written any more (a full disk): tracing stops, the run goes on. */
  onError(message: string): void;
}

/**
 * `--trace FILE`: the run's HTTP exchanges as a HAR 1.2 file, written as they happen so that a long
 * pass does not hold them in memory. The file is valid JSON whichever way the process ends: the
 * closing brackets are written on Node's 'exit' (a return, process.exit, an uncaught error), and on
 * a SIGTERM or SIGINT that nothing else handles, before the signal is raised again.
 */
export class TraceFile implements ExchangeObserver {
  private readonly fd: number;
  private pending: Exchange[] = [];
  private flushing?: NodeJS.Immediate;
  private recorded = 0;
  private dropped = 0;
  private closed = false;
  private broken = false;
  private readonly onExit = (): void => this.finish();
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    // A run that traps signals (sync's wind-down) decides itself when to exit; 'exit' then closes the file.
    if (process.listenerCount(signal) > 1) return;
    this.finish();
    process.kill(process.pid, signal);
  };

  constructor(
    readonly path: string,
    private readonly options: TraceOptions,
  ) {
    try {
      this.fd = openSync(path, 'w', 0o600);
    } catch (e) {
      throw new ConfigError(
        '--trace',
        `cannot write '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    const creator = { name: 'o365-backsync', version: require('../../../package.json').version as string };
    this.write(`{"log":{"version":"1.2","creator":${JSON.stringify(creator)},"entries":[`);
    process.on('exit', this.onExit);
    process.on('SIGTERM', this.onSignal);
    process.on('SIGINT', this.onSignal);
  }

  exchanged(exchange: Exchange): void {
    if (this.closed || this.recorded >= this.options.maxEntries) {
      this.dropped++;
      return;
    }
    this.recorded++;
    this.pending.push(exchange);
    // Written on the next turn of the event loop, not now: the reply that carries a new APS token is
    // recorded before the OA client has decoded it and the scrubber has learnt the token.
    this.flushing ??= setImmediate(() => this.flush());
  }

  /** Writes what is pending and the closing brackets; later exchanges are only counted. Idempotent. */
  finish(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    process.off('exit', this.onExit);
    process.off('SIGTERM', this.onSignal);
    process.off('SIGINT', this.onSignal);
    this.write(`\n],"comment":${JSON.stringify(this.comment())}}}\n`);
    closeSync(this.fd);
  }

  private flush(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    if (!this.pending.length) return;
    const first = this.recorded - this.pending.length === 0;
    const scrub = (_key: string, value: unknown): unknown =>
      typeof value === 'string' ? this.options.scrubber.scrub(value) : value;
    const text = this.pending
      .map((exchange, i) => `${first && i === 0 ? '' : ','}\n${JSON.stringify(harEntry(exchange), scrub)}`)
      .join('');
    this.pending = [];
    this.write(text);
  }

  private write(text: string): void {
    if (this.broken) return;
    try {
      writeSync(this.fd, text);
    } catch (e) {
      this.broken = true;
      this.options.onError(
        `--trace: cannot write '${this.path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; tracing stopped`,
      );
    }
  }

  private comment(): string {
    const parts = [
      `APS tokens, Authorization headers and the OA password are replaced by ${PLACEHOLDER}; bodies are cut at ${BODY_LIMIT} bytes`,
    ];
    if (this.dropped)
      parts.push(
        `${this.dropped} more exchange${this.dropped === 1 ? '' : 's'} after the first ${this.recorded} not recorded (TRACE_MAX_ENTRIES)`,
      );
    return `${parts.join('; ')}.`;
  }
}
