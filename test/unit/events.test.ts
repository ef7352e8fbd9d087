import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fanOut } from '../../src/sync/events';
import type { Instance, PassEvents, Tenant } from '../../src/sync/ports';

const instance: Instance = { id: 1001, resourceId: 'r' };
const tenant: Tenant = { id: 't' };

test('two listeners of the same hook both hear it, in order, with its arguments', () => {
  const heard: string[] = [];
  const log: PassEvents = {
    tenantDone: (i, t) => heard.push(`log ${i.id} ${t.id}`),
    instanceStarted: (i) => heard.push(`log started ${i.id}`),
  };
  const bar: PassEvents = { tenantDone: (i, t) => heard.push(`bar ${i.id} ${t.id}`) };
  const events = fanOut(log, undefined, bar);
  events.tenantDone?.(instance, tenant);
  events.instanceStarted?.(instance);
  assert.deepEqual(heard, ['log 1001 t', 'bar 1001 t', 'log started 1001']);
  assert.equal(events.tenantFailed, undefined, 'a hook no listener has stays absent');
});
