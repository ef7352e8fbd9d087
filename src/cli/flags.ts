import { ConfigError } from '../errors';

/**
 * commander argParsers for the repeatable flags that are not settings: each checks one value and adds
 * it to those given before. A bad value is a ConfigError, which `run` (main.ts) prints as one line
 * with exit 2, like a bad setting.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `--tenant UUID`: a tenant's APS resource id, kept lowercase as the controller writes it. */
export function tenantIdFlag(value: string, previous: string[] = []): string[] {
  if (!UUID.test(value))
    throw new ConfigError('--tenant', `must be a tenant's APS resource id (a UUID), got '${value}'`);
  return [...previous, value.toLowerCase()];
}

/** `--instance ID`: an instance id, a whole number. */
export function instanceIdFlag(value: string, previous: number[] = []): number[] {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new ConfigError('--instance', `must be an instance id (a whole number), got '${value}'`);
  }
  return [...previous, Number(value)];
}

/** `--systemd-version N`: the systemd release the units are written for (RHEL 7 runs 219). */
export function systemdVersionFlag(value: string): number {
  if (!/^\d{3}$/.test(value))
    throw new ConfigError('--systemd-version', `must be a systemd release number such as 219 or 252, got '${value}'`);
  return Number(value);
}

/** `--user NAME`: the user the scheduled runs run as, a name or a uid, as cron and systemd take one. */
export function userFlag(value: string): string {
  if (!/^(?:[a-z_][a-z0-9_.-]*|\d+)$/i.test(value) || value.length > 32)
    throw new ConfigError('--user', `must be a user name or uid, got '${value}'`);
  return value;
}
