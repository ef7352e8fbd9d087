import { Readable } from 'node:stream';
import Deserializer from 'xmlrpc/lib/deserializer';
import { serializeMethodCall } from 'xmlrpc/lib/serializer';
import { OaError, OaFaultError, ProtocolError } from '../errors';
import { integer, isStruct, unexpected } from './shapes';
import { excerpt } from '../http/remote-text';

/**
 * OA's wire format: an XML-RPC call with one struct of named arguments, answered by a struct
 * `{status, result}` or `{status: -1, error_message, module_id, extype_id}`. Decoding turns the bytes
 * into `result` or into the typed error that says which of the three layers (XML, XML-RPC, OA) refused.
 */
export function encodeCall(method: string, args: Record<string, unknown>): string {
  return serializeMethodCall(method, [args]);
}

export async function decodeReply(method: string, body: Buffer): Promise<unknown> {
  return unwrap(method, await decodeResponse(method, body));
}

class StrictDeserializer extends Deserializer {
  // The library builds a fault's Error inside its 'end' handler and throws there when <fault> holds no
  // struct; uncaught, that would end the process, so it becomes a parse error instead.
  protected override onDone(): void {
    try {
      super.onDone();
    } catch {
      this.onError('malformed <fault>');
    }
  }

  // The library parses <int> with parseInt (so "12abc" is 12 and big ids lose digits) and hands <i8>
  // back as a string; ids must arrive exact and as numbers, or not at all.
  protected override endInt(data: string): void {
    const digits = data.trim();
    if (!/^[+-]?\d+$/.test(digits) || !Number.isSafeInteger(Number(digits))) {
      throw new Error(`expected an integer of at most 2^53-1 but got '${digits.slice(0, 24)}'`);
    }
    this.push(Number(digits));
    this.value = false;
  }

  protected override endI8(data: string): void {
    this.endInt(data);
  }
}

function decodeResponse(method: string, body: Buffer): Promise<unknown> {
  return new Promise((resolve, reject) => {
    new StrictDeserializer().deserializeMethodResponse(Readable.from(body, { objectMode: false }), (error, value) => {
      if (!error) resolve(value);
      else if ('faultString' in error) reject(fault(method, error));
      else
        reject(
          new ProtocolError('oa', `OA ${method}: reply is not valid XML-RPC: ${excerpt(error.message, 200)}`, {
            cause: error,
          }),
        );
    });
  });
}

function fault(method: string, error: Error & { faultCode?: unknown; faultString?: unknown }): OaFaultError {
  const code = typeof error.faultCode === 'number' ? error.faultCode : undefined;
  const text = typeof error.faultString === 'string' ? excerpt(error.faultString, 500) : '(no faultString)';
  return new OaFaultError(method, code, text);
}

function unwrap(method: string, reply: unknown): unknown {
  if (!isStruct(reply) || !('status' in reply))
    throw unexpected(method, 'the reply', "a struct with a 'status'", reply);
  const status = integer(method, 'status', reply.status);
  if (status === 0) return reply.result;
  const message =
    typeof reply.error_message === 'string'
      ? excerpt(reply.error_message, 500)
      : `status ${status} without error_message`;
  const moduleId = typeof reply.module_id === 'string' ? reply.module_id : undefined;
  throw new OaError(method, message, moduleId, typeof reply.extype_id === 'number' ? reply.extype_id : undefined);
}
