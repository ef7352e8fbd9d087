import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after, test } from 'node:test';
import { startSimulator } from '../sim';
import { missing } from '../tools';
import { runCli, summaryOf, workdir } from './harness';

/**
 * The same pass with OA played by CPython's XML-RPC server instead of our simulator: the OA replies
 * are encoded by an implementation that shares no code with our client.
 */
const STANDIN = resolve(__dirname, '../../../test/sim/oa_standin.py');

test(
  'against an independent OA stand-in, several hundred tenants across several instances are each resynced exactly once',
  { skip: missing('python3') },
  async () => {
    const sim = await startSimulator({
      instances: 4,
      tenantsPerInstance: [90, 120, 60, 110],
      pageCap: 25,
      provisioningEvery: 10,
    });
    const python = spawn('python3', [STANDIN, sim.oaUrl]);
    after(async () => {
      python.kill();
      await sim.close();
    });
    const port = await new Promise<string>((resolvePort, reject) => {
      python.once('error', reject);
      python.stderr.on('data', (d) => reject(new Error(String(d))));
      python.stdout.once('data', (d) => resolvePort(String(d).trim()));
    });
    const w = workdir();
    const result = await runCli(['sync', '--json'], { ...sim.env(), ...w.env, OA_PORT: port }, w.cwd);
    assert.equal(result.code, 0, result.stderr);
    const ready = sim.readyTenants();
    assert.ok(ready.length > 300);
    assert.equal(summaryOf(result).synced, ready.length);
    assert.equal(summaryOf(result).instances, 4);
    assert.deepEqual([...sim.stats.resyncCalls.keys()].sort(), ready.map((t) => t.id).sort());
    for (const calls of sim.stats.resyncCalls.values()) assert.equal(calls, 1);

    const unknown = await runCli(
      ['sync', '--json', '--force'],
      { ...sim.env(), ...w.env, OA_PORT: port, OFFICE_APP_ID: '77' },
      w.cwd,
    );
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /Application with ID 77 is not found\./);
  },
);
