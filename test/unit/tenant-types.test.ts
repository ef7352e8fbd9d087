import assert from 'node:assert/strict';
import { test } from 'node:test';
import { byVersion, libraryTypesOf, tenantTypesOf, tenantTypeVersion, versionOf } from '../../src/aps/tenant-types';
import { unmatchedTenantType } from '../../src/sync/tenant-types';

const T = (v: string): string => `http://www.parallels.com/Office365/Tenant/${v}`;
const CORE = 'http://aps-standard.org/types/core/resource/1.0';

test('tenant type versions are read from the type ID and compare as numbers: 2.10 after 2.2', () => {
  assert.deepEqual(tenantTypeVersion(T('2.8')), [2, 8]);
  for (const other of [
    'http://www.parallels.com/Office365/User/2.0',
    T('2'),
    T('2.8.1'),
    T('x.1'),
    `${T('2.0')}/`,
    'https://www.parallels.com/Office365/Tenant/2.0',
  ])
    assert.equal(tenantTypeVersion(other), undefined, other);
  assert.deepEqual([T('2.10'), T('2.2'), T('10.0'), T('2.8')].sort(byVersion), [
    T('2.2'),
    T('2.8'),
    T('2.10'),
    T('10.0'),
  ]);
  assert.equal(versionOf(T('2.10')), '2.10');
});

test('the library names every tenant version not implementing another found one; others are left out', () => {
  const library = [
    { id: CORE, implements: [] },
    { id: 'http://www.parallels.com/Office365/User/2.0', implements: [CORE] },
    { id: T('2.8'), implements: [CORE, 'http://example.com/Middle/1.0'] },
    { id: 'http://example.com/Middle/1.0', implements: [T('2.0')] },
    { id: T('2.0'), implements: [CORE] },
    { id: T('3.0'), implements: [CORE] },
  ];
  assert.deepEqual(tenantTypesOf(library), {
    found: [T('2.0'), T('2.8'), T('3.0')],
    named: [T('2.0'), T('3.0')],
  });
  const cycle = [
    { id: T('2.0'), implements: [T('2.8')] },
    { id: T('2.8'), implements: [T('2.0')] },
  ];
  assert.deepEqual(tenantTypesOf(cycle), { found: [T('2.0'), T('2.8')], named: [] }, 'a cycle ends, it does not loop');
  assert.deepEqual(tenantTypesOf([{ id: CORE, implements: [] }]), { found: [], named: [] });
});

test('a library page: its types, with items without a type ID passed over', () => {
  assert.deepEqual(
    libraryTypesOf([{ id: T('2.0'), implements: [CORE, 7] }, { aps: { id: '5' } }, { id: T('2.8') }, null]),
    [
      { id: T('2.0'), implements: [CORE] },
      { id: T('2.8'), implements: [] },
    ],
  );
});

test('a set tenant type that no instance lists, while a library holds others, is unmatched; anything else is not', () => {
  const set = (found?: string[]) => ({ source: 'setting' as const, listed: [T('2.5')], ...(found ? { found } : {}) });
  assert.deepEqual(
    unmatchedTenantType([
      { types: set([T('2.0'), T('2.8')]), listed: 0 },
      { types: set([T('2.8')]), listed: 0 },
    ]),
    { setting: T('2.5'), found: [T('2.0'), T('2.8')] },
  );
  const cases = {
    'one instance lists tenants': [
      { types: set([T('2.0')]), listed: 0 },
      { types: set(), listed: 3 },
    ],
    'the library holds only the setting': [{ types: { ...set([T('2.5')]) }, listed: 0 }],
    'the library could not be read': [{ types: set(), listed: 0 }],
    'the types were found, not set': [
      { types: { source: 'library' as const, listed: [T('2.0')], found: [T('2.0')] }, listed: 0 },
    ],
    'an instance never listed': [{ types: set([T('2.0')]), listed: 0 }, { listed: undefined }],
    'no instance': [],
  };
  for (const [name, instances] of Object.entries(cases)) assert.equal(unmatchedTenantType(instances), undefined, name);
});
