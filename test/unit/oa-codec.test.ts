import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import Deserializer from 'xmlrpc/lib/deserializer';
import { OaError, OaFaultError, ProtocolError } from '../../src/errors';
import { decodeReply, encodeCall } from '../../src/oa/codec';

const reply = (value: string): Buffer =>
  Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<methodResponse><params><param><value>${value}</value></param></params></methodResponse>\n`,
  );
const member = (name: string, value: string): string => `<member><name>${name}</name><value>${value}</value></member>`;
const ok = (result: string): Buffer =>
  reply(`<struct>${member('status', '<i4>0</i4>')}${member('result', result)}</struct>`);

function parseCall(xml: string): Promise<{ method?: string; params?: unknown[] }> {
  return new Promise((resolve, reject) => {
    new Deserializer().deserializeMethodCall(
      Readable.from(Buffer.from(xml), { objectMode: false }),
      (error, method, params) => (error ? reject(error) : resolve({ method, params })),
    );
  });
}

test('a call is one struct of named arguments, integers as <int>', async () => {
  const xml = encodeCall('pem.APS.getApplicationInstances', { app_id: 41, subscription_id: 1000001 });
  assert.match(xml, /<methodName>pem\.APS\.getApplicationInstances<\/methodName>/);
  assert.match(xml, /<member><name>app_id<\/name><value><int>41<\/int><\/value><\/member>/);
  assert.deepEqual(await parseCall(xml), {
    method: 'pem.APS.getApplicationInstances',
    params: [{ app_id: 41, subscription_id: 1000001 }],
  });
});

test('status 0 yields the result, with nested structs and arrays', async () => {
  const body = ok(
    `<array><data><value><struct>${member('application_instance_id', '<int>7</int>')}${member('application_resource_id', '<string>9f1c</string>')}</struct></value>` +
      `<value><struct>${member('application_instance_id', '<i4>8</i4>')}${member('application_resource_id', 'a2b3')}</struct></value></data></array>`,
  );
  assert.deepEqual(await decodeReply('m', body), [
    { application_instance_id: 7, application_resource_id: '9f1c' },
    { application_instance_id: 8, application_resource_id: 'a2b3' },
  ]);
});

test('<i8> arrives as a number, and integers beyond 2^53-1 are refused rather than rounded', async () => {
  assert.equal(await decodeReply('m', ok('<i8>4294967296</i8>')), 4294967296);
  await assert.rejects(decodeReply('m', ok('<int>9007199254740993</int>')), (e: unknown) => {
    assert.ok(e instanceof ProtocolError);
    assert.match(e.message, /^OA m: reply is not valid XML-RPC: .*'9007199254740993'/);
    return true;
  });
  await assert.rejects(decodeReply('m', ok('<int>12abc</int>')), ProtocolError);
});

test('status -1 is an OaError carrying the message, module and extype', async () => {
  const body = reply(
    `<struct>${member('status', '<i4>-1</i4>')}${member('error_message', '<string>Application with ID 41 is not found.</string>')}` +
      `${member('module_id', '<string>APS</string>')}${member('extype_id', '<i4>2207</i4>')}</struct>`,
  );
  await assert.rejects(decodeReply('pem.APS.getApplicationInstances', body), (e: unknown) => {
    assert.ok(e instanceof OaError);
    assert.equal(e.method, 'pem.APS.getApplicationInstances');
    assert.equal(e.errorMessage, 'Application with ID 41 is not found.');
    assert.equal(e.moduleId, 'APS');
    assert.equal(e.extypeId, 2207);
    assert.equal(
      e.message,
      'OA pem.APS.getApplicationInstances failed: Application with ID 41 is not found. (module APS, extype 2207)',
    );
    return true;
  });
});

test('an XML-RPC fault is an OaFaultError with the server words', async () => {
  const body = Buffer.from(
    '<?xml version="1.0"?><methodResponse><fault><value><struct>' +
      member('faultCode', '<int>1</int>') +
      member('faultString', '<string>&lt;class \'Exception\'&gt;:method "pem.nope" is not supported</string>') +
      '</struct></value></fault></methodResponse>',
  );
  await assert.rejects(decodeReply('pem.nope', body), (e: unknown) => {
    assert.ok(e instanceof OaFaultError);
    assert.equal(e.faultCode, 1);
    assert.equal(e.faultString, `<class 'Exception'>:method "pem.nope" is not supported`);
    return true;
  });
});

test('a fault without a struct is a ProtocolError, not a crash', async () => {
  const body = Buffer.from('<methodResponse><fault></fault></methodResponse>');
  await assert.rejects(
    decodeReply('m', body),
    (e: unknown) => e instanceof ProtocolError && /malformed <fault>/.test(e.message),
  );
});

test('malformed, truncated or non-XML-RPC bodies are ProtocolErrors naming the method', async () => {
  const full = ok('<int>1</int>').toString();
  const cases: [string, RegExp][] = [
    [full.slice(0, full.indexOf('<name>result')), /Invalid XML-RPC message/],
    [full.slice(0, full.length - 5), /Unexpected end/],
    ['<html><head><title>Bad Gateway</title></head></html>', /Unknown XML-RPC tag 'TITLE'/],
    ['', /Invalid XML-RPC message/],
  ];
  for (const [body, words] of cases) {
    await assert.rejects(decodeReply('pem.APS.getApplicationInstanceToken', Buffer.from(body)), (e: unknown) => {
      assert.ok(e instanceof ProtocolError, `${body}: ${String(e)}`);
      assert.equal(e.remote, 'oa');
      assert.match(e.message, /^OA pem\.APS\.getApplicationInstanceToken: reply is not valid XML-RPC: /);
      assert.match(e.message, words);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  }
});

test('a reply without a status struct is a ProtocolError saying what was expected', async () => {
  await assert.rejects(decodeReply('m', reply('<string>hello</string>')), {
    name: 'ProtocolError',
    message: "OA m: expected the reply to be a struct with a 'status', got a string",
  });
  await assert.rejects(decodeReply('m', reply(`<struct>${member('status', '<string>0</string>')}</struct>`)), {
    name: 'ProtocolError',
    message: 'OA m: expected status to be an integer, got a string',
  });
});
