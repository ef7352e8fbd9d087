import { join } from 'node:path';
import type { Logger } from 'pino';
import { seconds, TokenLifetime } from '../sync/token-lifetime';
import { writeFileAtomic } from './atomic-file';
import { readOwnFile } from './own-files';
import { durationMs, readShape, shape, time } from './state-shape';

/**
 * `token-lifetime.json` in STATE_DIR: how long the controller's tokens live, as a pass learned it
 * from a refusal, so that later runs renew in time from their first token instead of learning it again
 * at the cost of the calls in flight. It only ever shortens the renewal age; deleting it forgets it.
 */
export const TOKEN_LIFETIME_FILE = 'token-lifetime.json';

interface Saved {
  lifetimeMs: number;
  learnedAt: string;
}

const savedShape = shape<Saved>({ lifetimeMs: durationMs, learnedAt: time });

export function rememberedTokenLifetime(stateDir: string, configuredMaxAgeMs: number, logger: Logger): TokenLifetime {
  const path = join(stateDir, TOKEN_LIFETIME_FILE);
  const known = read(path, logger);
  const lifetime: TokenLifetime = new TokenLifetime({
    configuredMaxAgeMs,
    knownLifetimeMs: known?.lifetimeMs,
    onLearned: (lifetimeMs, first) => {
      const saved: Saved = { lifetimeMs: Math.round(lifetimeMs), learnedAt: new Date().toISOString() };
      try {
        writeFileAtomic(path, `${JSON.stringify(saved)}\n`);
      } catch (e) {
        logger.warn(
          { path, error: (e as Error).message },
          `cannot keep the learned token lifetime in ${path}: ${(e as Error).message}`,
        );
      }
      if (!first) return;
      logger.warn(
        { lifetimeMs: saved.lifetimeMs, maxAgeMs: Math.round(lifetime.maxAgeMs), path },
        `the controller refused a token ${seconds(lifetimeMs)} old, younger than APS_TOKEN_MAX_AGE (${seconds(configuredMaxAgeMs)}): ` +
          `its tokens live about that long, so tokens are renewed at ${seconds(lifetime.maxAgeMs)} from now on, in later runs too; ` +
          `set APS_TOKEN_MAX_AGE below ${seconds(lifetimeMs)} to say so yourself`,
      );
    },
  });
  if (known && lifetime.maxAgeMs < configuredMaxAgeMs) {
    logger.info(
      { ...known, maxAgeMs: Math.round(lifetime.maxAgeMs), path },
      `tokens are renewed at ${seconds(lifetime.maxAgeMs)}: the controller's tokens were found to live ${seconds(known.lifetimeMs)} (${path})`,
    );
  }
  return lifetime;
}

/** The saved lifetime; a file that is not one is ignored with a warning, and replaced when one is learned. */
function read(path: string, logger: Logger): Saved | undefined {
  let text: string;
  try {
    text = readOwnFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    logger.warn(
      { path, error: (e as Error).message },
      `cannot read ${path}; tokens are renewed by APS_TOKEN_MAX_AGE alone`,
    );
    return undefined;
  }
  const saved = readShape(text, savedShape);
  if ('value' in saved && saved.value.lifetimeMs > 0) return saved.value;
  logger.warn({ path }, `${path} does not hold a token lifetime; it is ignored`);
  return undefined;
}
