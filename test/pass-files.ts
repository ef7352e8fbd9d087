import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PassStateStore, type RunningPass } from '../src/runtime/pass-state';
import { manualClock } from './clock';
import { scratchDir } from './tmp';

/**
 * A pass's state files in a scratch folder, as a run opens them: `open` resumes the unfinished pass
 * if there is one, else starts one. Any warning, or a journal that cannot be written, fails the test.
 */
export function passStateFiles(): { dir: string; open(): RunningPass; size(): number } {
  const dir = scratchDir('obs-pass-');
  const store = new PassStateStore(dir, assert.fail);
  const identity = { appId: 41, tenantType: 'T' };
  const mustNotFail = (e: Error): never => {
    throw e;
  };
  return {
    dir,
    open: () => {
      const header = store.unfinished();
      assert.notEqual(header, 'damaged');
      return store.open(identity, manualClock(), header === 'damaged' ? undefined : header, (m) => m, mustNotFail);
    },
    /** Bytes of every file in the folder now. */
    size: () => readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0),
  };
}
