import type { Dispatcher } from 'undici';
import type { Abortable } from './deadlines';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * An error reply is read for its message and status only: this much is plenty, and the rest is dropped
 * rather than refused, so that the status still decides what the failure is.
 */
export const ERROR_REPLY_BYTES = 64 * 1024;

/** How a reply ended: read whole, over its bound, or failed (with what had arrived of it, if anything). */
export type ReadEnd = { reply: Reply } | { tooLarge: Reply } | { error: Error; partial?: Reply };

const NOTHING = Buffer.alloc(0);

/**
 * Reads one reply as undici's dispatcher hands it over, keeping at most `limitBytes` of its body (64 KiB
 * of an error reply). undici's `request()` wraps every reply in a Readable stream under an async
 * resource, and reading that stream with `for await` costs an iterator and a promise per chunk: on
 * replies this small that is a large share of a tenant's CPU. Here each chunk is kept as it comes and
 * the reply is told once to `end`.
 */
export class ReplyReader implements Dispatcher.DispatchHandler, Abortable {
  private controller: Dispatcher.DispatchController | undefined;
  /** Raised before undici gave the request a connection: it is ended as soon as it has one. */
  private abortedEarly: Error | undefined;
  private reply: Reply | undefined;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private maxBytes = 0;
  private ended = false;

  constructor(
    private readonly limitBytes: number,
    private readonly end: (how: ReadEnd) => void,
    /** Told when the status and headers have come, e.g. for a trace's timings. */
    private readonly headersCame?: (reply: Reply) => void,
  ) {}

  abort(reason: Error): void {
    if (this.ended) return;
    if (this.controller) this.controller.abort(reason);
    else this.abortedEarly = reason;
  }

  /** Told again each time undici retries the request on another connection. */
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortedEarly) controller.abort(this.abortedEarly);
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Reply['headers']): void {
    // 1xx replies are interim: the real one follows.
    if (status < 200 || this.ended) return;
    const failed = status > 299;
    this.maxBytes = failed ? Math.min(ERROR_REPLY_BYTES, this.limitBytes) : this.limitBytes;
    this.reply = { status, headers, body: NOTHING };
    this.headersCame?.(this.reply);
    const declared = Number(headers['content-length']);
    if (!failed && Number.isFinite(declared) && declared > this.maxBytes)
      this.stop(controller, { tooLarge: this.reply });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.ended) return;
    this.size += chunk.length;
    // Kept even when it breaks the limit, so a trace shows how the oversized reply began.
    this.chunks.push(chunk);
    if (this.size <= this.maxBytes) return;
    const reply = this.withBody();
    if (reply.status > 299) this.stop(controller, { reply: { ...reply, body: reply.body.subarray(0, this.maxBytes) } });
    else this.stop(controller, { tooLarge: reply });
  }

  onResponseEnd(): void {
    if (this.ended) return;
    this.ended = true;
    this.end({ reply: this.withBody() });
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.end({ error, partial: this.reply && this.withBody() });
  }

  /** Ends the reply here and drops the rest of it; undici's report of that abort is not heard. */
  private stop(controller: Dispatcher.DispatchController, how: ReadEnd): void {
    this.ended = true;
    this.end(how);
    controller.abort(new Error('the rest of the reply is not read'));
  }

  private withBody(): Reply {
    const { chunks } = this;
    // One chunk is a view of the socket's read, which nothing reuses: no copy is needed.
    this.reply!.body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.size);
    return this.reply!;
  }
}
