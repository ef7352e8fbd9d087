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
