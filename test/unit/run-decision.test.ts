import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextRun, type Status } from '../../src/cli/status-command';
import {
  decideRun,
  type PassIdentity,
  type RunSettings,
  type RunState,
  TYPES_FROM_LIBRARY,
} from '../../src/sync/run-decision';

/**
 * Every state a run can find, and what it decides. `sync` acts on exactly this decision and `status`
 * prints `nextRun` of it, so each case checks both: the decision, and what status announces.
 */
const TYPE = 'http://www.parallels.com/Office365/Tenant/2.0';
const NOW = Date.parse('2026-11-27T12:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString();
const pass = (over: Partial<PassIdentity> = {}): PassIdentity => ({ appId: 41, tenantType: TYPE, ...over });
/** A pass that finished an hour ago and took ten minutes: due at 12:00 + 5 min with auto (1.5 x 10 min after its start). */
const last = { startedAt: iso(NOW - 10 * 60_000), durationMs: 10 * 60_000 };
const settings: RunSettings = { appId: 41, tenantType: TYPE, minInterval: 'auto' };
const state = (over: Partial<RunState> = {}): RunState => ({
  running: false,
  unfinished: undefined,
  last: undefined,
  ...over,
});

const typeChanged = {
  reason: 'first',
  startsPass: true,
  discard: { because: 'tenant type', was: 'http://example.com/Tenant/1.0', now: TYPE },
};
const typeChangedNext: Status['next'] = {
  startsPass: true,
  at: iso(NOW),
  reason: 'first',
  why: `the unfinished pass was for tenant type http://example.com/Tenant/1.0, not ${TYPE} (APS_TENANT_TYPE): the next run discards it`,
};

const cases: {
  name: string;
  state: RunState;
  settings?: Partial<RunSettings>;
  decision: Record<string, unknown>;
  next: Status['next'];
}[] = [
  {
    name: 'another run holds the lock, whatever the files say',
    state: state({ running: true, unfinished: pass(), last }),
    decision: { reason: 'running', startsPass: false },
    next: { startsPass: false, at: null, reason: 'running', why: null },
  },
  {
    name: 'no history at all',
    state: state(),
    decision: { reason: 'first', startsPass: true },
    next: { startsPass: true, at: iso(NOW), reason: 'first', why: null },
  },
  {
    name: 'the last pass is too recent',
    state: state({ last }),
    decision: { reason: 'not-due', startsPass: false, dueAt: NOW + 5 * 60_000 },
    next: { startsPass: false, at: iso(NOW + 5 * 60_000), reason: 'not-due', why: null },
  },
  {
    name: 'the last pass is far enough back (a fixed interval)',
    state: state({ last }),
    settings: { minInterval: 600 },
    decision: { reason: 'due', startsPass: true },
    next: { startsPass: true, at: iso(NOW), reason: 'due', why: null },
  },
  {
    name: 'the last pass started in the future (a clock set back): due now, saying why',
    state: state({ last: { startedAt: iso(NOW + 30 * 60_000), durationMs: 20 * 24 * 3600_000 } }),
    decision: { reason: 'due', startsPass: true, clockBehind: { lastStartedAt: iso(NOW + 30 * 60_000) } },
    next: {
      startsPass: true,
      at: iso(NOW),
      reason: 'due',
      why: `the last pass started at ${iso(NOW + 30 * 60_000)}, after now (${iso(NOW)}): the clock was set back, or last-pass.json is wrong; the next pass is due now`,
    },
  },
  {
    name: 'a last pass whose start cannot be read: due now',
    state: state({ last: { startedAt: 'yesterday', durationMs: 60_000 } }),
    decision: { reason: 'due', startsPass: true, clockBehind: { lastStartedAt: 'yesterday' } },
    next: {
      startsPass: true,
      at: iso(NOW),
      reason: 'due',
      why: "the start of the last pass in last-pass.json ('yesterday') is not a time; the next pass is due now",
    },
  },
  {
    name: 'an unfinished pass of this application and tenant type resumes, due or not',
    state: state({ unfinished: pass(), last }),
    decision: { reason: 'resume', startsPass: true, resume: pass() },
    next: { startsPass: true, at: iso(NOW), reason: 'resume', why: null },
  },

  {
    name: 'OFFICE_APP_ID changed: the pass is discarded and pacing decides (not due)',
    state: state({ unfinished: pass({ appId: 40 }), last }),
    decision: {
      reason: 'not-due',
      startsPass: false,
      dueAt: NOW + 5 * 60_000,
      discard: { because: 'application', was: 40, now: 41 },
    },
    next: {
      startsPass: false,
      at: iso(NOW + 5 * 60_000),
      reason: 'not-due',
      why: 'the unfinished pass was for application 40, not 41 (OFFICE_APP_ID): the next run discards it',
    },
  },
  {
    name: 'OFFICE_APP_ID changed, no finished pass yet: discarded, and the first pass starts',
    state: state({ unfinished: pass({ appId: 40 }) }),
    decision: { reason: 'first', startsPass: true, discard: { because: 'application', was: 40, now: 41 } },
    next: {
      startsPass: true,
      at: iso(NOW),
      reason: 'first',
      why: 'the unfinished pass was for application 40, not 41 (OFFICE_APP_ID): the next run discards it',
    },
  },
  {
    name: 'APS_TENANT_TYPE changed: discarded',
    state: state({ unfinished: pass({ tenantType: 'http://example.com/Tenant/1.0' }) }),
    decision: typeChanged,
    next: typeChangedNext,
  },
  {
    name: 'a damaged pass file: discarded, and pacing decides (due)',
    state: state({ unfinished: 'damaged', last }),
    settings: { minInterval: 0 },
    decision: { reason: 'due', startsPass: true, discard: { because: 'damaged' } },
    next: {
      startsPass: true,
      at: iso(NOW),
      reason: 'due',
      why: 'the unfinished pass is damaged: the next run discards it',
    },
  },
  {
    name: 'status without OFFICE_APP_ID, with an unfinished pass: cannot tell, and says on what it depends',
    state: state({ unfinished: pass(), last }),
    settings: { appId: undefined },
    decision: { reason: 'unknown', startsPass: undefined, setting: 'OFFICE_APP_ID', was: '41' },
    next: {
      startsPass: null,
      at: null,
      reason: 'unknown',
      why: 'the unfinished pass is resumed only if OFFICE_APP_ID is still 41, and it is not set here (or not valid)',
    },
  },
  {
    name: 'status without OFFICE_APP_ID and no unfinished pass: the application does not matter',
    state: state({ last }),
    settings: { appId: undefined },
    decision: { reason: 'not-due', startsPass: false, dueAt: NOW + 5 * 60_000 },
    next: { startsPass: false, at: iso(NOW + 5 * 60_000), reason: 'not-due', why: null },
  },
  {
    name: 'status without OFFICE_APP_ID, but the tenant type it knows differs: discarded all the same',
    state: state({ unfinished: pass({ tenantType: 'http://example.com/Tenant/1.0' }) }),
    settings: { appId: undefined },
    decision: typeChanged,
    next: typeChangedNext,
  },
  {
    name: 'status with an APS_TENANT_TYPE it cannot read: cannot tell for a pass that recorded one',
    state: state({ unfinished: pass() }),
    settings: { tenantType: undefined },
    decision: { reason: 'unknown', startsPass: undefined, setting: 'APS_TENANT_TYPE', was: TYPE },
    next: {
      startsPass: null,
      at: null,
      reason: 'unknown',
      why: `the unfinished pass is resumed only if APS_TENANT_TYPE is still ${TYPE}, and its value here is not valid`,
    },
  },
  {
    name: 'APS_TENANT_TYPE unset now, set when the pass started: discarded',
    state: state({ unfinished: pass() }),
    settings: { tenantType: TYPES_FROM_LIBRARY },
    decision: {
      reason: 'first',
      startsPass: true,
      discard: { because: 'tenant type', was: TYPE, now: TYPES_FROM_LIBRARY },
    },
    next: {
      startsPass: true,
      at: iso(NOW),
      reason: 'first',
      why: `the unfinished pass was for tenant type ${TYPE}, not those found in the types library (APS_TENANT_TYPE): the next run discards it`,
    },
  },
  {
    name: 'APS_TENANT_TYPE unset then and now: resumed, whatever the library holds now',
    state: state({ unfinished: pass({ tenantType: TYPES_FROM_LIBRARY }) }),
    settings: { tenantType: TYPES_FROM_LIBRARY },
    decision: { reason: 'resume', startsPass: true, resume: { appId: 41, tenantType: TYPES_FROM_LIBRARY } },
    next: { startsPass: true, at: iso(NOW), reason: 'resume', why: null },
  },
  {
    name: 'status with an APS_TENANT_TYPE it cannot read, for a pass started with it unset',
    state: state({ unfinished: pass({ tenantType: TYPES_FROM_LIBRARY }) }),
    settings: { tenantType: undefined },
    decision: { reason: 'unknown', startsPass: undefined, setting: 'APS_TENANT_TYPE', was: TYPES_FROM_LIBRARY },
    next: {
      startsPass: null,
      at: null,
      reason: 'unknown',
      why: 'the unfinished pass is resumed only if APS_TENANT_TYPE is still unset, and its value here is not valid',
    },
  },
];

for (const c of cases) {
  test(c.name, () => {
    const decision = decideRun(c.state, { ...settings, ...c.settings }, NOW);
    assert.deepEqual(decision, c.decision);
    assert.deepEqual(nextRun(decision, NOW), c.next);
  });
}

test('a decision that starts a pass starts it now; one that does not names when, or nothing', () => {
  for (const c of cases) {
    const next = nextRun(decideRun(c.state, { ...settings, ...c.settings }, NOW), NOW);
    if (next.startsPass === true) assert.equal(next.at, iso(NOW), c.name);
    if (next.reason === 'resume') assert.equal(next.why, null, `a resumed pass is not discarded: ${c.name}`);
  }
});
