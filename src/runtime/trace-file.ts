import { closeSync, writeSync } from 'node:fs';
import { BODY_LIMIT, harEntry, PLACEHOLDER } from './har';
import type { Exchange, ExchangeObserver } from '../http/transport';
import { ConfigError } from '../errors';
import { cannotOpen, claimedPath, openForRewrite, type KeptFiles } from './own-files';
import type { SecretScrubber } from './secrets';
import { STOP_SIGNALS } from './shutdown';

export interface TraceOptions {
  scrubber: SecretScrubber;
  /** Exchanges recorded; later ones are only counted (TRACE_MAX_ENTRIES). */
  maxEntries: number;
  /** Told once when the file cannot be written any more (a full disk): tracing stops, the run goes on. */
  onError(message: string): void;
  /** The files the trace may never replace: STATE_DIR's and the log. */
  kept: KeptFiles;
  /** How bytes reach the file: writeSync, or a stand-in that fails as a full disk does. */
  writeTo?: (fd: number, text: string) => number;
}

/**
 * `--trace FILE`: the run's HTTP exchanges as a HAR 1.2 file, written as they happen so that a long
 * pass does not hold them in memory. The file is valid JSON whichever way the process ends: the
 * closing brackets are written on Node's 'exit' (a return, process.exit, an uncaught error), and on
 * a stop signal that nothing else handles, before the signal is raised again. It is opened by the
 * rules of the tool's own files (own-files.ts): never through a symlink, never a FIFO or a device,
 * 0600 even if it was there with a wider mode.
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
    const claimed = claimedPath(path, options.kept);
    if (claimed) throw new ConfigError('--trace', `will not write '${path}': ${claimed}`);
    try {
      this.fd = openForRewrite(path, 0o600);
    } catch (e) {
      throw cannotOpen('--trace', `cannot write '${path}'`, e);
    }
    const creator = { name: 'o365-backsync', version: require('../../../package.json').version as string };
    this.write(`{"log":{"version":"1.2","creator":${JSON.stringify(creator)},"entries":[`);
    process.on('exit', this.onExit);
    for (const signal of STOP_SIGNALS) process.on(signal, this.onSignal);
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
    for (const signal of STOP_SIGNALS) process.off(signal, this.onSignal);
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
      (this.options.writeTo ?? writeSync)(this.fd, text);
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
