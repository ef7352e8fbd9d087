import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { missing } from '../tools';
import { CLI, runCli, runCliOnTerminal, until, workdir } from './harness';

/** `npm run sim`, as README "Try it" tells a new user: start it, then run the three commands it prints. */
const ROOT = resolve(__dirname, '../../..');
const SCRIPT = 'dist/test/sim/try-it.js';
const hasScript = !missing('script');

test('npm run sim writes a ready env file and prints check, sync and status, which work as printed; Ctrl-C stops it and removes its folder', async () => {
  const scripts = (
    JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  assert.equal(scripts.sim, `npm run build && node ${SCRIPT}`, 'this test starts what npm run sim starts');

  const sim = spawn(
    process.execPath,
    [
      resolve(ROOT, SCRIPT),
      '--instances',
      '2',
      '--tenants',
      '30',
      '--latency',
      '5',
      '--provisioning-every',
      '0',
      '--failing',
      '1',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  sim.stdout.on('data', (d) => (out += d));
  sim.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((done) => sim.on('close', (code) => done(code)));
  try {
    await until(() => out.includes('Ctrl-C stops'));
    assert.match(
      out,
      /^simulator: OA Public API at http:\/\/127\.0\.0\.1:\d+\/RPC2, APS controller at http:\/\/127\.0\.0\.1:\d+\/\n {11}2 instances, 60 ready tenants \(0 still provisioning\); 1 refuse their resync\n/,
    );
    const envFile = /^env file: {2}(\S+) /m.exec(out)![1]!;
    const commands = out.split('\n').filter((l) => l.startsWith(`  ${CLI} `));
    assert.deepEqual(
      commands,
      ['check', 'sync', 'status'].map((c) => `  ${CLI} ${c} --env-file ${envFile}`),
    );
    const args = (i: number): string[] => commands[i]!.trim().split(' ').slice(1);

    // Run from an empty folder with nothing but PATH: the env file is all the commands need.
    const w = workdir();
    const check = await runCli(args(0), {}, w.cwd);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.deepEqual(
      [
        ...new Set(
          check.stdout
            .split('\n')
            .filter(Boolean)
            .map((l) => l.split(' ')[0]),
        ),
      ],
      ['ok'],
      check.stdout,
    );

    const sync = await (hasScript ? runCliOnTerminal : runCli)(args(1), {}, w.cwd);
    assert.equal(sync.code, 1, sync.stdout + sync.stderr);
    if (hasScript) {
      const screen = sync.stdout.replace(/\r/g, '');
      assert.match(screen, /instance 1001: 30\/30 tenants, \d+\/s, ETA 0s/, 'progress on the terminal');
      assert.match(screen, /\n59 synced, 1 failed, 0 skipped of 60 tenants across 2 instances in /);
    } else {
      // Without util-linux's script there is no terminal to show progress on; the run itself still counts.
      assert.match(sync.stderr, /^o365-backsync: 1 of 60 tenants failed; details in .*\n$/);
    }

    const status = await runCli(args(2), {}, w.cwd);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      /^last pass: {3}started .*: 59 synced, 1 failed, 0 skipped of 60 tenants across 2 instances$/m,
    );
    assert.match(status.stdout, new RegExp(`^log: {9}${dirname(envFile)}/log/o365-backsync\\.log$`, 'm'));
  } finally {
    sim.kill('SIGINT');
  }
  assert.equal(await exited, 0, out);
  assert.match(out, /simulator stopped after \d+ controller requests; .* removed\n$/);
  assert.equal(existsSync(dirname(/^env file: {2}(\S+) /m.exec(out)![1]!)), false, 'its folder is gone');
});
