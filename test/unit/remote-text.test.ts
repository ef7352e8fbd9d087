import assert from 'node:assert/strict';
import { test } from 'node:test';
import { excerpt, withoutUrlCredentials } from '../../src/http/remote-text';
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

test('a secret echoed where remote words are cut is blanked before the cut: no piece of it is left', () => {
  const scrubber = new SecretScrubber();
  const token = 'VGhpcyBpcyBhIHRva2VuIG9mIGZpZnR5LWZpdmUgY2hhcmFjdGVycw==';
  scrubber.add(token);
  const cut = excerpt(`${'x'.repeat(480)}${token} may not synchronize`, 500);
  assert.equal(cut, `${`${'x'.repeat(480)}[REDACTED] may not synchronize`.slice(0, 499)}…`);
  for (let i = 0; i + 6 <= token.length; i++) assert.ok(!cut.includes(token.slice(i, i + 6)), token.slice(i, i + 6));
});

test('a password of any length is blanked; a short one where it stands apart, so that JSON stays JSON', () => {
  const scrubber = new SecretScrubber();
  scrubber.addCredentials('admin', 'se');
  assert.equal(
    scrubber.scrub('{"password":"se","dryRun":false,"msg":"resynced"}'),
    '{"password":"[REDACTED]","dryRun":false,"msg":"resynced"}',
  );
  assert.equal(scrubber.scrub('login admin/se refused'), 'login admin/[REDACTED] refused');
  const escaped = new SecretScrubber();
  escaped.addCredentials('admin', 'n');
  const line = '{"msg":"a\\n b"}';
  assert.equal(escaped.scrub(line), line, 'inside a JSON escape it is left, or the line would break');
  // A short one that is a number is left too: it would turn the log's numbers into text.
  const digits = new SecretScrubber();
  digits.addCredentials('admin', '30');
  assert.equal(digits.scrub('{"level":30}'), '{"level":30}');
});
