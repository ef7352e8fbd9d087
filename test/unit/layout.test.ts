import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';

/** House rules a reader relies on, checked over the sources as they are in the repository. */
const ROOT = resolve(__dirname, '../../..');

function files(dir: string, ending: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return files(path, ending);
    return ending.test(entry.name) ? [path] : [];
  });
}

test('the repository is self-contained: no source, test or README cites a file outside it', () => {
  const sources = [
    ...files(join(ROOT, 'src'), /\.(ts|md)$/),
    ...files(join(ROOT, 'test'), /\.(ts|md)$/),
    join(ROOT, 'README.md'),
  ];
  const citing = sources
    .filter((path) => /protocol\.md|shared\/docs|\.\.\/shared\//.test(readFileSync(path, 'utf8')))
    .map((path) => relative(ROOT, path));
  assert.deepEqual(citing, []);
});

/** Each relative import of every .ts file under `folder`, as [importing file, imported path from src/]. */
function importsUnder(folder: string): [string, string][] {
  const src = join(ROOT, 'src');
  return files(join(src, folder), /\.ts$/).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)].map((m): [string, string] => [
      relative(src, file),
      relative(src, resolve(join(file, '..'), m[1]!)),
    ]),
  );
}

test('arrows run one way: runtime/ imports no adapter, oa/ no runtime/, sync/ only itself and errors.ts, and the pass ports import nothing of the pass', () => {
  const wrong = [
    ...importsUnder('runtime').filter(([, to]) => /^(aps|oa)\//.test(to)),
    ...importsUnder('oa').filter(([, to]) => /^runtime\//.test(to)),
    ...importsUnder('sync').filter(([, to]) => !/^sync\//.test(to) && to !== 'errors'),
    ...importsUnder('sync').filter(([from, to]) => from === 'sync/ports.ts' && to !== 'sync/counts'),
  ];
  assert.deepEqual(wrong, []);
});

test('src/ uses undici through its public entry, sets no V8 flag mid-run, and its comments cite no issue', () => {
  const found = files(join(ROOT, 'src'), /\.ts$/).flatMap((path) => {
    const text = readFileSync(path, 'utf8');
    return [
      /['"]undici\//.test(text) ? `${relative(ROOT, path)}: a private undici file` : [],
      /setFlagsFromString/.test(text) ? `${relative(ROOT, path)}: setFlagsFromString` : [],
      /\bissue #?\d+/i.test(text) ? `${relative(ROOT, path)}: an issue number` : [],
    ].flat();
  });
  assert.deepEqual(found, []);
});
