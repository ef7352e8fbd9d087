import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Simulator } from '../sim';
import { simulatorSetup, until } from './harness';
import { fill, smallDisk } from './small-disk';

/**
 * `--trace FILE`: the real CLI against the simulator writes a HAR 1.2 file with an entry for every
 * request the simulator saw, no secret in it, and valid JSON however the run ends.
 */
const AUTH = { user: 'admin', password: 'S3cret+pass/word' };
const setup = simulatorSetup({ RETRY_MAX_DELAY_MS: '20', REQUEST_TIMEOUT_MS: '2000', CONNECT_TIMEOUT_MS: '2000' });

interface HarEntry {
  request: { method: string; url: string; headers: { name: string; value: string }[]; postData?: { text: string } };
  response: { status: number; content: { text?: string }; _error?: string };
  timings: { wait: number; receive: number };
  startedDateTime: string;
  comment?: string;
}
interface Har {
  log: { version: string; creator: { name: string }; entries: HarEntry[]; comment: string };
}

/** The file, parsed: JSON.parse throws if any exit path left it unclosed. */
function readHar(path: string): { har: Har; text: string } {
  const text = readFileSync(path, 'utf8');
  const har = JSON.parse(text) as Har;
  assert.equal(har.log.version, '1.2');
  assert.equal(har.log.creator.name, 'o365-backsync');
  return { har, text };
}

/** Neither an issued token nor the password, plain or as basic auth sends it, anywhere in the file. */
function assertNoSecrets(text: string, sim: Simulator): void {
  const tokens = sim.issuedTokens();
  assert.ok(tokens.length > 0, 'the run should have been issued tokens');
  for (const token of tokens) {
    for (const form of [token, encodeURIComponent(token), JSON.stringify(token).slice(1, -1)])
      assert.ok(!text.includes(form), `token ${token} in the trace`);
  }
  assert.ok(!text.includes(AUTH.password), 'the password in the trace');
  assert.ok(
    !text.includes(Buffer.from(`${AUTH.user}:${AUTH.password}`).toString('base64')),
    'the basic auth credentials in the trace',
  );
}

const seen = (sim: Simulator): number => sim.stats.requests + sim.stats.oaRequests;

test('sync --force --trace with basic auth: an entry per request the servers saw, no token or password in it, exit 0', async () => {
  const { sim, w, run } = await setup(
    { instances: 2, tenantsPerInstance: [7, 5], pageCap: 4, oaAuth: AUTH },
    { APS_PAGE_SIZE: '4' },
  );
  const path = join(w.cwd, 'run.har');
  const result = await run(['sync', '--force', '--json', '--trace', path]);
  assert.equal(result.code, 0, result.stderr);
  const { har, text } = readHar(path);
  assert.equal(har.log.entries.length, seen(sim));
  assert.equal(har.log.entries.filter((e) => e.request.url.endsWith('/RPC2')).length, sim.stats.oaRequests);
  assertNoSecrets(text, sim);
  const oa = har.log.entries.find((e) => e.request.postData?.text.includes('getApplicationInstanceToken'))!;
  assert.equal(oa.request.headers.find((h) => h.name === 'authorization')?.value, '[REDACTED]');
  assert.match(oa.response.content.text!, /<name>aps_token<\/name><value><string>\[REDACTED\]<\/string>/);
  const resync = har.log.entries.find((e) => e.request.url.includes('/synchronize_async'))!;
  assert.equal(resync.request.method, 'GET');
  assert.equal(resync.request.headers.find((h) => h.name === 'APS-Token')?.value, '[REDACTED]');
  assert.equal(resync.response.status, 202);
  assert.ok(resync.timings.wait >= 0 && resync.timings.receive >= 0);
  assert.ok(!Number.isNaN(Date.parse(resync.startedDateTime)));
  assert.match(har.log.comment, /replaced by \[REDACTED\]; bodies are cut at 65536 bytes\.$/);
});

test('a controller that echoes the token and a failed tenant: the echo is blanked, the file is whole after exit 1', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 6, oaAuth: AUTH }, { RETRIES: '0' });
  const [echo, refused] = sim.instances[0]!.tenants;
  sim.setFault(echo!.id, 'echoToken');
  sim.setFault(refused!.id, 'fail500');
  const path = join(w.cwd, 'run.har');
  const result = await run(['sync', '--force', '--json', '--trace', path]);
  assert.equal(result.code, 1, result.stderr);
  const { har, text } = readHar(path);
  assert.equal(har.log.entries.length, seen(sim));
  assertNoSecrets(text, sim);
  // The resync's entry, not the sync status read before it.
  const echoed = har.log.entries.find((e) => e.request.url.includes(`${echo!.id}/synchronize`))!;
  assert.equal(echoed.response.status, 500);
  assert.match(echoed.response.content.text!, /\[REDACTED\]/);
});

test('a controller that is down: exit 3, and the 503 pages are in the file', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 3 }, { RETRIES: '1' });
  sim.setControllerDown(true);
  const path = join(w.cwd, 'run.har');
  const result = await run(['sync', '--force', '--json', '--trace', path]);
  assert.equal(result.code, 3, result.stderr);
  const { har, text } = readHar(path);
  assert.equal(har.log.entries.length, seen(sim));
  assert.deepEqual(
    har.log.entries.filter((e) => !e.request.url.endsWith('/RPC2')).map((e) => e.response.status),
    [503, 503],
  );
  assertNoSecrets(text, sim);
});

test('a log folder that cannot be made, found after the settings were read: exit 2, and the file is an empty trace', async () => {
  const { w, run } = await setup({ instances: 1, tenantsPerInstance: 1 });
  const path = join(w.cwd, 'run.har');
  const result = await run(['sync', '--trace', path], { LOG_DIR: '/dev/null/log' });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /^o365-backsync: LOG_DIR: /);
  assert.deepEqual(readHar(path).har.log.entries, []);
});

test('a trace file that cannot be written, on sync and check: one line, exit 2, no network call', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 1 });
  const result = await run(['sync', '--trace', join(w.cwd, 'no-such-folder', 'run.har')]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^o365-backsync: --trace: cannot write '.*run\.har': ENOENT\n$/);
  const check = await run(['check', '--trace', join(w.cwd, 'no-such-folder', 'check.har')]);
  assert.equal(check.code, 2);
  assert.match(check.stdout, /^FAIL trace: --trace: cannot write '.*check\.har': ENOENT\n$/);
  assert.equal(seen(sim), 0);
});

test('a trace file that fills the disk: one line on stderr, and the pass itself goes on to exit 0', async (t) => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 3 });
  const disk = join(w.cwd, 'disk');
  const reason = smallDisk(t, disk);
  if (reason) return t.skip(reason);
  // Room for the file's opening line, not for its first entry.
  fill(disk, 200);
  const path = join(disk, 'run.har');
  const result = await run(['sync', '--force', '--json', '--trace', path]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, `o365-backsync: --trace: cannot write '${path}': ENOSPC; tracing stopped\n`);
  assert.equal(sim.stats.resyncSucceeded.size, 3);
});

/** A traced sync whose second tenant's resync hangs, once that resync is in flight. */
async function hangingRun(requestTimeoutMs: string) {
  const { sim, w, start } = await setup(
    { instances: 1, tenantsPerInstance: 4 },
    { RETRIES: '0', REQUEST_TIMEOUT_MS: requestTimeoutMs, SYNC_CONCURRENCY: '1' },
  );
  const hung = sim.instances[0]!.tenants[1]!;
  sim.setFault(hung.id, 'hang');
  const path = join(w.cwd, 'run.har');
  const cli = start(['sync', '--force', '--json', '--trace', path]);
  await until(() => sim.stats.resyncCalls.has(hung.id));
  return { sim, w, hung, path, cli };
}

test('SIGTERM while a request hangs: the run winds down, the request that timed out has an entry with the error, exit 143', async () => {
  const { sim, hung, path, cli } = await hangingRun('1500');
  cli.child.kill('SIGTERM');
  const result = await cli.done;
  assert.equal(result.code, 143, result.stderr);
  const { har, text } = readHar(path);
  assert.equal(har.log.entries.length, seen(sim));
  const failed = har.log.entries.find((e) => e.request.url.includes(`${hung.id}/synchronize`))!;
  assert.equal(failed.response.status, 0);
  assert.match(failed.response._error!, /no answer within 1500 ms$/);
  assert.equal(failed.comment, failed.response._error);
  assertNoSecrets(text, sim);
});

test('a second SIGTERM exits at once: the file is still whole', async () => {
  const { sim, w, path, cli } = await hangingRun('60000');
  cli.child.kill('SIGTERM');
  await until(() => w.log().some((l) => String(l.msg).startsWith('SIGTERM received')));
  cli.child.kill('SIGTERM');
  const result = await cli.done;
  assert.equal(result.code, 143, result.stderr);
  const { har } = readHar(path);
  // The hung request never ended, so it has no entry; every answered one has.
  assert.equal(har.log.entries.length, seen(sim) - 1);
});

test('check --trace: every request check made, and a SIGTERM that nothing traps still leaves a whole file', async () => {
  const { sim, w, run, start } = await setup({ instances: 2, tenantsPerInstance: 3, oaAuth: AUTH });
  const path = join(w.cwd, 'check.har');
  const result = await run(['check', '--trace', path]);
  assert.equal(result.code, 0, result.stdout);
  const { har, text } = readHar(path);
  assert.equal(har.log.entries.length, seen(sim));
  assertNoSecrets(text, sim);

  sim.setOaFault('hang');
  const hung = join(w.cwd, 'hung.har');
  const cli = start(['check', '--trace', hung]);
  await until(
    () =>
      sim.stats.oaCalls.length > har.log.entries.filter((e) => e.request.url.endsWith('/RPC2')).length &&
      existsSync(hung),
  );
  cli.child.kill('SIGTERM');
  const killed = await cli.done;
  assert.equal(killed.signal, 'SIGTERM', 'check still dies by the signal');
  assert.deepEqual(readHar(hung).har.log.entries, []);
});

test('TRACE_MAX_ENTRIES: the first exchanges are kept and the rest counted in log.comment', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 8 }, { TRACE_MAX_ENTRIES: '5' });
  const path = join(w.cwd, 'run.har');
  const result = await run(['sync', '--force', '--json', '--trace', path]);
  assert.equal(result.code, 0, result.stderr);
  const { har } = readHar(path);
  assert.equal(har.log.entries.length, 5);
  assert.ok(har.log.entries[0]!.request.url.endsWith('/RPC2'), 'the first exchange is the first kept');
  assert.match(
    har.log.comment,
    new RegExp(`; ${seen(sim) - 5} more exchanges after the first 5 not recorded \\(TRACE_MAX_ENTRIES\\)\\.$`),
  );
});
