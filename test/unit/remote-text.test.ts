import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withoutUrlCredentials } from '../../src/http/remote-text';
import { SecretScrubber } from '../../src/runtime/secrets';

test('credentials are taken out of every URL in a text, whatever the scheme; the rest is left alone', () => {
  assert.equal(
    withoutUrlCredentials(
      'controller https://admin:pa55@oa.example:6308/ and http://user@10.0.0.1/x, mail me@example.com',
    ),
    'controller https://oa.example:6308/ and http://10.0.0.1/x, mail me@example.com',
  );
  assert.equal(withoutUrlCredentials('{"uri":"HTTPS://a:b@h/p?q=x@y"}'), '{"uri":"HTTPS://h/p?q=x@y"}');
  assert.equal(withoutUrlCredentials('no url here: user:pw@host'), 'no url here: user:pw@host');
});

test('the scrubber, which every output passes, takes them out too', () => {
  assert.equal(
    new SecretScrubber().scrub('controller https://admin:pa55@oa.example/'),
    'controller https://oa.example/',
  );
});
