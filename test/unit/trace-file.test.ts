import assert from 'node:assert/strict';
import { readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Exchange } from '../../src/http/transport';
import { SecretScrubber } from '../../src/runtime/secrets';
import { TraceFile } from '../../src/runtime/trace-file';
import { scratchDir } from '../tmp';

/** The trace file on its own: streaming, the entry cap, and secrets learnt just after their exchange. */
const folder = scratchDir('obs-trace-');
const kept = { stateDir: join(folder, 'state'), logFile: join(folder, 'log', 'o365-backsync.log') };

const exchange = (body: string): Exchange => ({
  request: { method: 'POST', url: 'http://oa:8440/RPC2', body: 'call', what: 'OA reply' },
  startedAt: Date.now(),
  waitMs: 1,
  receiveMs: 1,
  reply: { status: 200, headers: { 'content-type': 'text/xml' }, body: Buffer.from(body) },
});
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const parse = (path: string) =>
  JSON.parse(readFileSync(path, 'utf8')) as {
    log: { entries: { response: { content: { text: string } } }[]; comment: string };
  };

test('a token learnt after its reply was recorded, but before the next turn of the event loop, is blanked', async () => {
  const scrubber = new SecretScrubber();
  const path = join(folder, 'a.har');
  const trace = new TraceFile(path, { scrubber, maxEntries: 10, onError: assert.fail, kept });
  trace.exchanged(exchange('<string>tok+en/1234=</string>'));
  scrubber.add('tok+en/1234=');
  await turn();
  trace.exchanged(exchange('<string>second</string>'));
  trace.finish();
  trace.finish();
  const har = parse(path);
  assert.deepEqual(
    har.log.entries.map((e) => e.response.content.text),
    ['<string>[REDACTED]</string>', '<string>second</string>'],
  );
  assert.doesNotMatch(har.log.comment, /not recorded/);
});

test('past maxEntries exchanges are counted, not written; a trace with none is still a HAR', async () => {
  const path = join(folder, 'b.har');
  const trace = new TraceFile(path, { scrubber: new SecretScrubber(), maxEntries: 2, onError: assert.fail, kept });
  for (let i = 0; i < 5; i++) trace.exchanged(exchange(`reply ${i}`));
  await turn();
  trace.finish();
  const har = parse(path);
  assert.deepEqual(
    har.log.entries.map((e) => e.response.content.text),
    ['reply 0', 'reply 1'],
  );
  assert.match(har.log.comment, /; 3 more exchanges after the first 2 not recorded \(TRACE_MAX_ENTRIES\)\.$/);

  const empty = join(folder, 'c.har');
  new TraceFile(empty, { scrubber: new SecretScrubber(), maxEntries: 2, onError: assert.fail, kept }).finish();
  assert.deepEqual(parse(empty).log.entries, []);
});

test('a file that cannot be written any more: one message, tracing stops, nothing throws', async () => {
  const errors: string[] = [];
  const path = join(folder, 'full.har');
  let writes = 0;
  const trace = new TraceFile(path, {
    scrubber: new SecretScrubber(),
    maxEntries: 10,
    onError: (message) => errors.push(message),
    kept,
    // The header goes in; every later write fails as on a full disk.
    writeTo: (fd, text) => {
      if (writes++ === 0) return writeSync(fd, text);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    },
  });
  trace.exchanged(exchange('reply'));
  await turn();
  trace.finish();
  assert.deepEqual(errors, [`--trace: cannot write '${path}': ENOSPC; tracing stopped`]);
});
