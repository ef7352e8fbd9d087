import { BacksyncError, ConfigError } from '../errors';

/** The exit codes cron, monitoring and operators rely on. This is the only place errors meet them. */
export const EXIT = {
  /** Every tenant synced or skipped; also "another run is active" and "not due yet". */
  ok: 0,
  /** The pass finished but some tenants failed. */
  tenantsFailed: 1,
  /** Configuration or usage error. */
  usage: 2,
  /** OA or the APS controller could not be reached, or refused us. */
  unreachable: 3,
  /** A bug in this tool: the log has the stack. */
  internal: 70,
} as const;

export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError) return EXIT.usage;
  if (error instanceof BacksyncError) return EXIT.unreachable;
  return EXIT.internal;
}

/** 128 + the signal's number, as shells report a process ended by that signal. */
export function exitCodeForSignal(signal: NodeJS.Signals): number {
  return 128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as Record<string, number>)[signal]!;
}
