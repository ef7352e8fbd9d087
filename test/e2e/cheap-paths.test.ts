import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { acquireRunLock } from '../../src/runtime/run-lock';
import { simulatorSetup } from './harness';

/**
 * Cron starts the tool every minute, and most runs find the lock busy or no pass due. Those runs must
 * stay cheap: they touch no network and load neither undici (the HTTP client) nor pino-pretty (the
 * terminal's log lines). A preload records every module the real CLI loaded.
 */
const setup = simulatorSetup({ SYNC_MIN_INTERVAL: '3600' });
const RECORDER = join(__dirname, 'record-modules.js');

/** The package folders under node_modules that the run loaded a module from. */
function packagesLoaded(file: string): Set<string> {
  const paths = readFileSync(file, 'utf8').split('\n');
  return new Set(
    paths.map((p) => /[/\\]node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)/.exec(p)?.[1]).filter((p) => p !== undefined),
  );
}

test('"another run is active" and "not due yet" load neither undici nor pino-pretty; a pass does load undici', async () => {
  const { w, run } = await setup({ instances: 1, tenantsPerInstance: 3 });
  const recorded = (name: string) => ({
    NODE_OPTIONS: `--require ${RECORDER}`,
    OBS_RECORD_MODULES: join(w.cwd, `${name}.modules`),
  });

  const pass = await run(['sync'], recorded('pass'));
  assert.equal(pass.code, 0, pass.stderr);
  // The recorder sees undici when a run loads it: the check below can fail.
  assert.ok(packagesLoaded(join(w.cwd, 'pass.modules')).has('undici'), 'the pass loaded undici');

  const notDue = await run(['sync'], recorded('not-due'));
  assert.equal(notDue.code, 0, notDue.stderr);
  assert.match(String(w.log().at(-1)!.msg), /^not due yet; /);

  const lock = await acquireRunLock(w.stateDir, new Date());
  assert.ok(lock.acquired);
  try {
    const busy = await run(['sync', '--force'], recorded('busy'));
    assert.equal(busy.code, 0, busy.stderr);
    assert.match(String(w.log().at(-1)!.msg), /^another run is active/);
  } finally {
    await lock.release();
  }

  for (const name of ['not-due', 'busy']) {
    const loaded = packagesLoaded(join(w.cwd, `${name}.modules`));
    assert.ok(loaded.has('pino'), `${name}: the recorder saw the log's own module`);
    assert.deepEqual(
      ['undici', 'pino-pretty'].filter((p) => loaded.has(p)),
      [],
      `${name} loaded them`,
    );
  }
});
