import { EXIT, traitsOf, type ExitCode } from '../errors';
import type { PassResult } from '../sync/pass';

/** The exit codes cron, monitoring and operators rely on; each error states its own in `src/errors.ts`. */
export { EXIT };

/** An error's own exit code; anything that is not one of ours is a bug (70). */
export function exitCodeFor(error: unknown): ExitCode {
  return traitsOf(error).exitCode;
}

/**
 * A pass that ran: stopped by one of our errors, that error's code (a failing controller 3, a file of
 * ours that cannot be written 4); an instance it could not finish 3; failed tenants, or a tenant type
 * that finds none, 1.
 */
export function exitCodeForPass(result: PassResult): ExitCode {
  if (result.interruptedBy instanceof Error) return exitCodeFor(result.interruptedBy);
  if (result.instanceFailures.length) return EXIT.unreachable;
  // A tenant whose Microsoft sync keeps failing needs a look, like a tenant whose resync failed, and
  // so does a listed item that is not a tenant (whatever it was, it was not resynced), and a tenant
  // type that found none of the tenants the controller holds.
  return result.failed || result.lastSyncFailed || result.invalid || result.tenantTypeUnmatched
    ? EXIT.tenantsFailed
    : EXIT.ok;
}

/**
 * How a run that ran a pass exits: the signal that stopped it, as shells report one; else the pass's
 * own code, where a tenant asked for by --tenant and not resynced counts as a failed one.
 */
export function exitCodeForRun(
  result: PassResult,
  stoppedBy: NodeJS.Signals | undefined,
  unresolvedTenants: number,
): number {
  if (stoppedBy) return exitCodeForSignal(stoppedBy);
  const code = exitCodeForPass(result);
  return code === EXIT.ok && unresolvedTenants > 0 ? EXIT.tenantsFailed : code;
}

/** 128 + the signal's number, as shells report a process ended by that signal. */
export function exitCodeForSignal(signal: NodeJS.Signals): number {
  return 128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as Record<string, number>)[signal]!;
}
