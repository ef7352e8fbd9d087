import { ProtocolError } from '../errors';

/**
 * Checks on what OA sent back. Each names the method, the place in the reply and what was expected,
 * so an operator can compare with the OA version at hand; none repeats a value, which may be a token.
 */
export function isStruct(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !Buffer.isBuffer(value)
  );
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'nil';
  if (typeof value === 'number') return `the number ${value}`;
  if (value === '') return 'an empty string';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (Buffer.isBuffer(value)) return 'base64 data';
  if (typeof value === 'object') return 'a struct';
  return `a ${typeof value}`;
}

export function unexpected(method: string, where: string, expected: string, value: unknown): ProtocolError {
  return new ProtocolError('oa', `OA ${method}: expected ${where} to be ${expected}, got ${describe(value)}`);
}

export function struct(method: string, where: string, value: unknown): Record<string, unknown> {
  if (!isStruct(value)) throw unexpected(method, where, 'a struct', value);
  return value;
}

export function integer(method: string, where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw unexpected(method, where, 'an integer', value);
  return value;
}

export function nonEmptyString(method: string, where: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw unexpected(method, where, 'a non-empty string', value);
  return value;
}
