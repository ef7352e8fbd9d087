import { writeFileSync } from 'node:fs';

/**
 * Preloaded into the CLI with NODE_OPTIONS=--require by cheap-paths.test.ts: as the process exits, it
 * writes the path of every module loaded with require() to the file named by OBS_RECORD_MODULES.
 */
const target = process.env.OBS_RECORD_MODULES;
if (target) process.once('exit', () => writeFileSync(target, Object.keys(require.cache).join('\n')));
