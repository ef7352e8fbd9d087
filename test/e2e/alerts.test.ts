import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { scratchDir } from '../tmp';
import { missing } from '../tools';
import { runCli, simulatorSetup } from './harness';

/** `setup alerts`: Prometheus alerting rules over the run's metrics, held to promtool and to the metrics file. */
const setup = simulatorSetup();
const RULES_TESTS = resolve(__dirname, '../../../test/fixtures/alerts/o365-backsync.rules.test.yml');

/** The rules as `setup alerts` prints them, in a scratch folder beside a copy of their promtool unit tests. */
async function printedRules(): Promise<{ dir: string; rules: string; text: string }> {
  const dir = scratchDir('obs-alerts-');
  const printed = await runCli(['setup', 'alerts'], {}, dir);
  assert.equal(printed.code, 0, printed.stderr);
  const rules = join(dir, 'o365-backsync.rules.yml');
  writeFileSync(rules, printed.stdout);
  copyFileSync(RULES_TESTS, join(dir, 'o365-backsync.rules.test.yml'));
  return { dir, rules, text: printed.stdout };
}

test('setup alerts prints rules that promtool check rules accepts', { skip: missing('promtool') }, async () => {
  const { rules } = await printedRules();
  const out = execFileSync('promtool', ['check', 'rules', rules], { encoding: 'utf8' });
  assert.match(out, /SUCCESS: 5 rules found/);
});

test('the rules pass their promtool unit tests', { skip: missing('promtool') }, async () => {
  const { dir } = await printedRules();
  const out = execFileSync('promtool', ['test', 'rules', 'o365-backsync.rules.test.yml'], {
    cwd: dir,
    encoding: 'utf8',
  });
  assert.match(out, /SUCCESS/);
});

test('the rules name only metrics a run writes', async () => {
  const { text } = await printedRules();
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 4 });
  sim.setFault(sim.readyTenants()[0]!.id, 'fail500');
  const metrics = join(w.cwd, 'o365-backsync.prom');
  assert.equal((await run(['sync', '--metrics-file', metrics])).code, 1);
  const written = new Set(readFileSync(metrics, 'utf8').match(/^o365_backsync_\w+/gm));
  const named = new Set(text.match(/o365_backsync_\w+/g));
  assert.ok(named.size >= 5, text);
  for (const name of named) assert.ok(written.has(name), `${name} is not a metric the run writes`);
});

test('setup alerts --write installs the rules under /etc/prometheus and names the next steps', async () => {
  const root = scratchDir('obs-alerts-root-');
  const result = await runCli(['setup', 'alerts', '--write', '--root', root], {}, root);
  assert.equal(result.code, 0, result.stderr);
  const path = join(root, 'etc/prometheus/o365-backsync.rules.yml');
  assert.equal(
    result.stdout,
    `wrote ${path}\nnext: list ${path} under rule_files in prometheus.yml, check it with: promtool check rules ${path}, then reload Prometheus\n`,
  );
  assert.match(readFileSync(path, 'utf8'), /^ {6}- alert: O365BacksyncRunsFailing$/m);
});
