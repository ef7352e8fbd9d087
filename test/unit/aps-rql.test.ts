import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rqlValue, tenantListQuery, tenantLookupQuery } from '../../src/aps/rql';

test('the tenant query filters on readiness, selects id and status, sorts by id, and pages', () => {
  assert.equal(
    tenantListQuery(['http://www.parallels.com/Office365/Tenant/2.8'], 6, 500),
    'implementing(http://www.parallels.com/Office365/Tenant/2.8),eq(aps.status,aps:ready),select(aps.id,aps.status),sort(+aps.id),limit(6,500)',
  );
});

test('several tenant types are one or() of implementing() terms, so the listing stays one sorted walk', () => {
  assert.equal(
    tenantListQuery(['http://www.parallels.com/Office365/Tenant/2.0', 'http://example.com/Tenant/3.1'], 0, 100),
    'or(implementing(http://www.parallels.com/Office365/Tenant/2.0),implementing(http://example.com/Tenant/3.1)),eq(aps.status,aps:ready),select(aps.id,aps.status),sort(+aps.id),limit(0,100)',
  );
  assert.equal(
    tenantLookupQuery(['http://a.example/T/1.0', 'http://b.example/T/1.0'], 'x1'),
    'or(implementing(http://a.example/T/1.0),implementing(http://b.example/T/1.0)),eq(aps.id,x1),select(aps.id,aps.status)',
  );
});

test('a type ID keeps : and / but characters that break the URL or RQL are percent-encoded', () => {
  assert.equal(rqlValue('http://example.com/Tenant/2.0'), 'http://example.com/Tenant/2.0');
  assert.equal(rqlValue('a b#c&d%e+f'), 'a%20b%23c%26d%25e%2Bf');
  assert.equal(rqlValue('x(1),y=z*'), 'x%281%29%2Cy%3Dz%2A');
  assert.equal(rqlValue("é!'"), '%C3%A9%21%27');
});

test('the whole query parses as a URL query without being altered', () => {
  const query = tenantListQuery(['http://t.example/Tenant 2#x'], 0, 10);
  const url = new URL(`https://oa.example:6308/aps/2/resources?${query}`);
  assert.equal(url.search, `?${query}`);
  assert.equal(url.hash, '');
  assert.match(query, /^implementing\(http:\/\/t\.example\/Tenant%202%23x\),/);
});

test('the lookup query finds one tenant by id, whatever its status', () => {
  assert.equal(
    tenantLookupQuery(['http://www.parallels.com/Office365/Tenant/2.8'], 'a1b2-c3'),
    'implementing(http://www.parallels.com/Office365/Tenant/2.8),eq(aps.id,a1b2-c3),select(aps.id,aps.status)',
  );
});
