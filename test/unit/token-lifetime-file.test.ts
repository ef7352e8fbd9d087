import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Logger } from 'pino';
import { rememberedTokenLifetime, TOKEN_LIFETIME_FILE } from '../../src/runtime/token-lifetime-file';
import { scratchDir } from '../tmp';

/** token-lifetime.json is read as the other state files are: a value out of bounds is ignored, with a warning. */

function logger(warnings: string[]): Logger {
  return { warn: (_o: unknown, m: string) => warnings.push(m), info: () => undefined } as unknown as Logger;
}

test('a saved lifetime shortens the renewal age; one out of bounds or of the wrong type is ignored with a warning', () => {
  const dir = scratchDir('obs-lifetime-');
  const path = join(dir, TOKEN_LIFETIME_FILE);
  const configured = 1_800_000;
  const learnedAt = '2026-11-27T06:00:00.000Z';
  writeFileSync(path, JSON.stringify({ lifetimeMs: 600_000, learnedAt }));
  const warnings: string[] = [];
  assert.ok(rememberedTokenLifetime(dir, configured, logger(warnings)).maxAgeMs < 600_000);
  assert.deepEqual(warnings, []);
  for (const saved of [
    { lifetimeMs: 1e20, learnedAt },
    { lifetimeMs: '600000', learnedAt },
    { lifetimeMs: 0, learnedAt },
    { lifetimeMs: 600_000, learnedAt: 'soon' },
    [{ lifetimeMs: 600_000, learnedAt }],
  ]) {
    writeFileSync(path, JSON.stringify(saved));
    warnings.length = 0;
    assert.equal(
      rememberedTokenLifetime(dir, configured, logger(warnings)).maxAgeMs,
      configured,
      JSON.stringify(saved),
    );
    assert.deepEqual(warnings, [`${path} does not hold a token lifetime; it is ignored`]);
  }
});
