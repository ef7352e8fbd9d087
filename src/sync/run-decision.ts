import { nextDueAt, type FinishedPass } from './pacing';

/**
 * What a run does about the full pass, decided in this one place: `sync` acts on the decision and
 * `status` announces it, so what `status` says the next run will do is what that run does.
 */

/** What an unfinished pass was started for; a run resumes it only for the same application and tenant type. */
export interface PassIdentity {
  appId: number;
  /** APS_TENANT_TYPE, or TYPES_FROM_LIBRARY where it is unset. */
  tenantType: string;
}

/**
 * What a pass records where APS_TENANT_TYPE is unset. The versions themselves are not part of the
 * identity: each run reads the library again and walks every version it finds, which keeps a resume
 * exact (src/aps/README.md, "The tenant type").
 */
export const TYPES_FROM_LIBRARY = 'found in the types library';

/** The tenant type a pass is for, from the APS_TENANT_TYPE setting (undefined: not set). */
export function passTenantType(setting: string | undefined): string {
  return setting ?? TYPES_FROM_LIBRARY;
}

/** A pass's tenant type in words that follow "for". */
function describeTenantType(tenantType: string): string {
  return tenantType === TYPES_FROM_LIBRARY
    ? 'the tenant types found in the types library'
    : `tenant type ${tenantType}`;
}

/** What the lock and the state files say, read without changing anything. */
export interface RunState<P extends PassIdentity = PassIdentity> {
  /** Another run holds the lock. */
  running: boolean;
  /** The full pass started and not finished; 'damaged' when its file cannot be read as one. */
  unfinished: P | 'damaged' | undefined;
  /** The last finished full pass, which paces the next. */
  last: FinishedPass | undefined;
}

/** The settings the decision depends on. undefined: not known where the decision is made (see `unknown`). */
export interface RunSettings {
  appId: number | undefined;
  tenantType: string | undefined;
  minInterval: 'auto' | number;
}

/** Why an unfinished pass is thrown away rather than resumed. */
export type Discard =
  | { because: 'damaged' }
  | { because: 'application'; was: number; now: number }
  | { because: 'tenant type'; was: string; now: string };

export type RunDecision<P extends PassIdentity = PassIdentity> =
  /** Another run is active: this one exits at once. */
  | { reason: 'running'; startsPass: false }
  /** Continue the unfinished pass, whatever pacing says. */
  | { reason: 'resume'; startsPass: true; resume: P }
  /**
   * Start a pass now: none has finished yet, or the last one is far enough back. `clockBehind`: the
   * last pass started after now by this clock (stepped back, or a wrong file), so pacing cannot tell and
   * the pass is due; a run warns with describeClockBehind.
   */
  | { reason: 'first' | 'due'; startsPass: true; discard?: Discard; clockBehind?: { lastStartedAt: string } }
  /** Exit at once: the next pass is due at `dueAt`. */
  | { reason: 'not-due'; startsPass: false; dueAt: number; discard?: Discard }
  /**
   * Only `status` meets this: the unfinished pass resumes if `setting` still has the value it was
   * started with, and that setting cannot be read where the decision is made.
   */
  | { reason: 'unknown'; startsPass: undefined; setting: 'OFFICE_APP_ID' | 'APS_TENANT_TYPE'; was: string };

/** The run that holds the lock with every setting known (`sync`) gets one of these four. */
export type PassDecision<P extends PassIdentity = PassIdentity> = Extract<
  RunDecision<P>,
  { reason: 'resume' | 'first' | 'due' | 'not-due' }
>;

export function decideRun<P extends PassIdentity>(
  state: RunState<P> & { running: false },
  settings: RunSettings & PassIdentity & { tenantType: string },
  now: number,
): PassDecision<P>;
export function decideRun<P extends PassIdentity>(
  state: RunState<P>,
  settings: RunSettings,
  now: number,
): RunDecision<P>;
export function decideRun<P extends PassIdentity>(
  state: RunState<P>,
  settings: RunSettings,
  now: number,
): RunDecision<P> {
  if (state.running) return { reason: 'running', startsPass: false };
  const { unfinished } = state;
  let discard: Discard | undefined;
  if (unfinished === 'damaged') discard = { because: 'damaged' };
  else if (unfinished) {
    discard = changedIdentity(unfinished, settings);
    if (!discard) {
      if (settings.appId === undefined)
        return { reason: 'unknown', startsPass: undefined, setting: 'OFFICE_APP_ID', was: String(unfinished.appId) };
      if (settings.tenantType === undefined) {
        return { reason: 'unknown', startsPass: undefined, setting: 'APS_TENANT_TYPE', was: unfinished.tenantType };
      }
      return { reason: 'resume', startsPass: true, resume: unfinished };
    }
  }
  const dueAt = nextDueAt(state.last, settings.minInterval);
  const discarding = discard ? { discard } : {};
  if (dueAt === undefined) return { reason: 'first', startsPass: true, ...discarding };
  if (!(Date.parse(state.last!.startedAt) <= now))
    return { reason: 'due', startsPass: true, clockBehind: { lastStartedAt: state.last!.startedAt }, ...discarding };
  if (dueAt <= now) return { reason: 'due', startsPass: true, ...discarding };
  return { reason: 'not-due', startsPass: false, dueAt, ...discarding };
}

/** A setting known here that differs from the one the pass was started with. */
function changedIdentity(pass: PassIdentity, settings: RunSettings): Discard | undefined {
  if (settings.appId !== undefined && settings.appId !== pass.appId)
    return { because: 'application', was: pass.appId, now: settings.appId };
  if (settings.tenantType !== undefined && settings.tenantType !== pass.tenantType) {
    return { because: 'tenant type', was: pass.tenantType, now: settings.tenantType };
  }
  return undefined;
}

/** Why the unfinished pass is not resumed, in words that follow "the unfinished pass". */
export function describeDiscard(discard: Discard): string {
  switch (discard.because) {
    case 'damaged':
      return 'is damaged';
    case 'application':
      return `was for application ${discard.was}, not ${discard.now} (OFFICE_APP_ID)`;
    case 'tenant type':
      return `was for ${describeTenantType(discard.was)}, not ${discard.now === TYPES_FROM_LIBRARY ? 'those found in the types library' : discard.now} (APS_TENANT_TYPE)`;
  }
}

/** Why a pass is due now although the last one seems to have started later. */
export function describeClockBehind({ lastStartedAt }: { lastStartedAt: string }, now: number): string {
  if (Number.isNaN(Date.parse(lastStartedAt)))
    return `the start of the last pass in last-pass.json ('${lastStartedAt}') is not a time; the next pass is due now`;
  return `the last pass started at ${lastStartedAt}, after now (${new Date(now).toISOString()}): the clock was set back, or last-pass.json is wrong; the next pass is due now`;
}
