import type { StreamEntry } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { printable } from './terminal-text';

/**
 * The run's warnings and errors as readable lines for a person at a terminal, while the log file
 * keeps every line as JSON. Only these levels: the bars and the closing summary tell the rest. Only
 * interactive runs load this module, and pino-pretty with it.
 */
export function terminalEcho(write: (text: string) => void, colorize: boolean): StreamEntry {
  // Our `error` fields are the remote's words, not Error objects: one line each, not a block.
  const pretty = prettyFactory({
    colorize,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname',
    singleLine: true,
    errorLikeObjectKeys: ['err'],
  });
  return {
    level: 'warn',
    stream: { write: (line: string) => write(pretty(JSON.stringify(JSON.parse(line), printableStrings))) },
  };
}

/**
 * The line's remote words with their control characters made visible before pino-pretty prints them
 * raw; its own colours are added after, so they still work.
 */
function printableStrings(_key: string, value: unknown): unknown {
  return typeof value === 'string' ? printable(value) : value;
}
