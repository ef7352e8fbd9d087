import { EXIT, traitsOf, type ExitCode } from '../errors';
import type { PassResult } from '../sync/pass';

/** The exit codes cron, monitoring and operators rely on; each error states its own in `src/errors.ts`. */
export { EXIT };

/** An error's own exit code; anything that is not one of ours is a bug (70). */
export function exitCodeFor(error: unknown): ExitCode {
  return traitsOf(error).exitCode;
}

/** A pass that ran: stopped by a failing controller or with an instance it could not finish is 3; failed tenants 1. */
export function exitCodeForPass(result: PassResult): ExitCode {
  if (result.interruptedBy instanceof Error || result.instanceFailures.length) return EXIT.unreachable;
  // A tenant whose Microsoft sync keeps failing needs a look, like a tenant whose resync failed.
  return result.failed || result.lastSyncFailed ? EXIT.tenantsFailed : EXIT.ok;
}

/** 128 + the signal's number, as shells report a process ended by that signal. */
export function exitCodeForSignal(signal: NodeJS.Signals): number {
  return 128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as Record<string, number>)[signal]!;
}
