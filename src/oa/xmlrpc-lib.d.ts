// @types/xmlrpc describes only the package's client and server; these are the two lib/ modules the
// OA client uses on their own, as far as it uses them. The package exports no serializer or parser of
// its own, and its client carries no timeout, so these two are the only way to use it for the bytes
// alone: package.json pins xmlrpc to exactly 1.3.2 so that the paths cannot move under us, and
// test/unit/oa-codec.test.ts holds the codec to the wire.
declare module 'xmlrpc/lib/serializer' {
  export function serializeMethodCall(method: string, params?: unknown[], encoding?: string): string;
}

declare module 'xmlrpc/lib/deserializer' {
  import type { Readable } from 'node:stream';

  class Deserializer {
    constructor(encoding?: string);
    deserializeMethodResponse(
      stream: Readable,
      callback: (error: Error | null | undefined, value?: unknown) => void,
    ): void;
    deserializeMethodCall(
      stream: Readable,
      callback: (error: Error | null | undefined, method?: string, params?: unknown[]) => void,
    ): void;
    // Parser internals that a subclass may override or use; called by the SAX handlers.
    protected value: boolean;
    protected push(value: unknown): void;
    protected onDone(): void;
    protected onError(message: string | Error): void;
    protected endInt(data: string): void;
    protected endI8(data: string): void;
  }
  export = Deserializer;
}
