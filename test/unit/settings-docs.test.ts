import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { buildProgram } from '../../src/cli/main';
import { loadConfig, SETTINGS } from '../../src/runtime/config';
import { scratchDir } from '../tmp';

/** The settings table in config.ts is the one place a setting is written; the docs must say what it says. */
const ROOT = resolve(__dirname, '../../..');
const settings = Object.values(SETTINGS).map((s) => ({ unset: undefined, flag: undefined, default: undefined, ...s }));

/** What the README's default column says: the default as written, else `required`, `unset` or what unset means. */
const defaultCell = (s: (typeof settings)[number]): string =>
  s.default !== undefined ? `\`${s.default}\`` : (s.unset ?? 'unset');

test("the README's settings table has one row per setting, with its flag, default and meaning", () => {
  const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('| variable | flag | default | meaning |'));
  assert.ok(table.length > 0, 'README has no settings table with the columns variable, flag, default, meaning');
  const lines = table.split('\n').slice(2);
  const rows = lines
    .slice(
      0,
      lines.findIndex((line) => !line.startsWith('|')),
    )
    .map((line) => line.replace(/^\| | \|$/g, '').split(/ *\| */));
  assert.deepEqual(
    rows,
    settings.map((s) => [`\`${s.variable}\``, s.flag ? `\`${s.flag}\`` : '', defaultCell(s), s.meaning]),
  );
});

test('config.example.env names every setting once, in order; required ones set, the others commented out at their default', () => {
  const example = readFileSync(resolve(ROOT, 'config.example.env'), 'utf8');
  const assignments = [...example.matchAll(/^(#?)([A-Z][A-Z0-9_]*)=(.*)$/gm)].map(([, hash, variable, value]) => ({
    variable,
    commented: hash === '#',
    value,
  }));
  assert.deepEqual(
    assignments.map((a) => a.variable),
    settings.map((s) => s.variable),
  );
  for (const [i, s] of settings.entries()) {
    const line = assignments[i]!;
    assert.equal(
      line.commented,
      s.unset !== 'required',
      `${s.variable}: only required settings are set in the example`,
    );
    if (s.default !== undefined) assert.equal(line.value, s.default, `${s.variable}: the example shows the default`);
  }
  // As shipped, it loads: the required settings' example values are valid.
  assert.equal(
    loadConfig({ envFile: resolve(ROOT, 'config.example.env'), env: {}, cwd: scratchDir('obs-settings-') }).envFile
      ?.path,
    resolve(ROOT, 'config.example.env'),
  );
});

test('every flag of the table is an option of sync that names its variable, and no option names a variable the table does not give it', () => {
  const options = buildProgram().commands.flatMap((command) =>
    command.options.map((o) => ({
      command: command.name(),
      flag: o.long,
      variable: /\(([A-Z][A-Z0-9_]*)\)$/.exec(o.description)?.[1],
    })),
  );
  for (const s of settings.filter((s) => s.flag)) {
    assert.ok(
      options.some((o) => o.command === 'sync' && o.flag === s.flag && o.variable === s.variable),
      `sync has no option ${s.flag} described with (${s.variable})`,
    );
  }
  for (const o of options.filter((o) => o.variable)) {
    assert.equal(
      settings.find((s) => s.variable === o.variable)?.flag,
      o.flag,
      `${o.command} ${o.flag} names ${o.variable}`,
    );
  }
});
