import type { PassEvents } from './ports';

type Hook = (...args: unknown[]) => void;

/**
 * One set of pass events that tells every listener, in the order given, each hook it has. Spreading
 * listeners into one object instead would keep only the last listener's hook of a name.
 */
export function fanOut(...listeners: (PassEvents | undefined)[]): PassEvents {
  const present = listeners.filter((l): l is PassEvents => l !== undefined) as Record<string, Hook | undefined>[];
  const combined: Record<string, Hook> = {};
  for (const name of new Set(present.flatMap((l) => Object.keys(l)))) {
    const hooks = present.map((l) => l[name]).filter((h): h is Hook => typeof h === 'function');
    combined[name] = (...args) => {
      for (const hook of hooks) hook(...args);
    };
  }
  return combined as PassEvents;
}
