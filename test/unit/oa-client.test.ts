import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { test } from 'node:test';
import { BodyTooLargeError, NetworkError, OaError, OaHttpError, ProtocolError } from '../../src/errors';
import { OaClient, type OaClientOptions } from '../../src/oa/client';

const PASSWORD = 'S3cret-pa55';

interface Seen {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A stand-in for OA's web server on a free port; the handler answers with raw bytes. */
async function withOa(
  handler: (res: ServerResponse, seen: Seen, count: number) => void,
  run: (client: OaClient, requests: Seen[]) => Promise<void>,
  overrides: Partial<OaClientOptions> = {},
  stop?: AbortSignal,
): Promise<void> {
  const requests: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() };
      requests.push(seen);
      handler(res, seen, requests.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new OaClient(
    {
      oaHost: '127.0.0.1',
      oaPort: (server.address() as AddressInfo).port,
      oaTls: false,
      oaUser: 'admin',
      oaPassword: PASSWORD,
      connectTimeoutMs: 1000,
      requestTimeoutMs: 2000,
      maxBodyBytes: 4096,
      retries: 2,
      retryMaxDelayMs: 5,
      ...overrides,
    },
    undefined,
    stop,
  );
  try {
    await run(client, requests);
  } finally {
    server.closeAllConnections();
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

const xml = (res: ServerResponse, body: string): void => {
  res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
};
const ok = (result: string): string =>
  '<?xml version="1.0"?>\r\n<methodResponse>\r\n<params>\r\n<param>\r\n<value><struct>\r\n' +
  '<member>\r\n<name>status</name>\r\n<value><i4>0</i4></value>\r\n</member>\r\n' +
  `<member>\r\n<name>result</name>\r\n<value>${result}</value>\r\n</member>\r\n` +
  '</struct></value>\r\n</param>\r\n</params>\r\n</methodResponse>\r\n';
const instance = (id: string, uuid: string): string =>
  `<value><struct><member><name>application_instance_id</name><value>${id}</value></member>` +
  `<member><name>application_resource_id</name><value><string>${uuid}</string></value></member></struct></value>`;
const APACHE_401 =
  '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>401 Unauthorized</title>\n</head><body>\n' +
  '<h1>Unauthorized</h1>\n<p>This server could not verify that you\nare authorized to access the document\nrequested.</p>\n</body></html>\n';
const basicAuth = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;

test('lists instances with basic auth, posting the call as text/xml to /RPC2', async () => {
  await withOa(
    (res, seen) => {
      if (seen.headers.authorization !== basicAuth) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="OA"', 'Content-Type': 'text/html; charset=iso-8859-1' });
        res.end(APACHE_401);
        return;
      }
      xml(
        res,
        ok(
          `<array><data>${instance('<i4>7</i4>', 'f0e1d2c3-0000-4000-8000-000000000007')}${instance('<int>12</int>', 'f0e1d2c3-0000-4000-8000-000000000012')}</data></array>`,
        ),
      );
    },
    async (client, requests) => {
      assert.deepEqual(await client.listInstances(41), [
        { id: 7, resourceId: 'f0e1d2c3-0000-4000-8000-000000000007' },
        { id: 12, resourceId: 'f0e1d2c3-0000-4000-8000-000000000012' },
      ]);
      assert.equal(requests.length, 1);
      assert.equal(requests[0]!.method, 'POST');
      assert.equal(requests[0]!.url, '/RPC2');
      assert.equal(requests[0]!.headers['content-type'], 'text/xml');
      assert.equal(requests[0]!.headers.authorization, basicAuth);
      assert.match(requests[0]!.body, /<methodName>pem\.APS\.getApplicationInstances<\/methodName>/);
      assert.match(requests[0]!.body, /<name>app_id<\/name><value><int>41<\/int><\/value>/);
    },
  );
});

test('a 401 page from basic auth is an OaHttpError with its title and the settings to check, not retried, and without the password', async () => {
  await withOa(
    (res) => {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="OA"', 'Content-Type': 'text/html; charset=iso-8859-1' });
      res.end(APACHE_401);
    },
    async (client, requests) => {
      await assert.rejects(client.listInstances(41), (e: unknown) => {
        assert.ok(e instanceof OaHttpError);
        assert.equal(e.status, 401);
        assert.equal(
          e.message,
          'OA Public API answered HTTP 401: 401 Unauthorized; OA refused OA_USER/OA_PASSWORD: check them',
        );
        assert.ok(!e.message.includes(PASSWORD) && !e.message.includes(basicAuth.slice(6)));
        return true;
      });
      assert.equal(requests.length, 1);
    },
    { oaPassword: 'wrong-password' },
  );
});

test('a 401 to a client without credentials asks for OA_USER and OA_PASSWORD; a 403 to one with them says to check them', async () => {
  const refuse = (status: number) => (res: ServerResponse) => {
    res.writeHead(status, { 'Content-Type': 'text/html' });
    res.end(`<html><head><title>${status} Refused</title></head></html>`);
  };
  await withOa(
    refuse(401),
    async (client) => {
      await assert.rejects(client.listInstances(41), {
        name: 'OaHttpError',
        message:
          'OA Public API answered HTTP 401: 401 Refused; OA asks for HTTP basic auth: set OA_USER and OA_PASSWORD',
      });
    },
    { oaUser: undefined, oaPassword: undefined },
  );
  await withOa(refuse(403), async (client, requests) => {
    await assert.rejects(client.listInstances(41), {
      name: 'OaHttpError',
      message: 'OA Public API answered HTTP 403: 403 Refused; OA refused OA_USER/OA_PASSWORD: check them',
    });
    assert.equal(requests.length, 1, 'a refusal is not retried');
  });
});

test('a 503 from a proxy is retried and the next answer wins', async () => {
  await withOa(
    (res, _seen, count) => {
      if (count === 1) {
        res.writeHead(503, { 'Content-Type': 'text/plain' });
        res.end('  Service\n\n  Unavailable:   back soon  ');
        return;
      }
      xml(
        res,
        ok('<struct><member><name>aps_token</name><value><string>tok-abc-123</string></value></member></struct>'),
      );
    },
    async (client, requests) => {
      assert.deepEqual(await client.issueToken(7), { token: 'tok-abc-123' });
      assert.equal(requests.length, 2);
      assert.match(requests[1]!.body, /<name>application_instance_id<\/name><value><int>7<\/int>/);
    },
  );
});

test('a proxy that keeps answering 502 ends in an OaHttpError with the page words folded', async () => {
  await withOa(
    (res) => {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end('Bad\n\tGateway   from nginx');
    },
    async (client, requests) => {
      await assert.rejects(client.listInstances(41), {
        name: 'OaHttpError',
        message: 'OA Public API answered HTTP 502: Bad Gateway from nginx',
      });
      assert.equal(requests.length, 3);
    },
  );
});

test("a proxy's Retry-After travels with the OaHttpError, for the retry delay", async () => {
  await withOa(
    (res) => {
      res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '2' });
      res.end('Service Unavailable');
    },
    async (client) => {
      await assert.rejects(
        client.listInstances(41),
        (e: unknown) => e instanceof OaHttpError && e.retryAfterMs === 2000,
      );
    },
    { retries: 0 },
  );
});

test('a token reply gives the token and the controller URI; bad ones never echo the token', async () => {
  const token = (fields: string): string => ok(`<struct>${fields}</struct>`);
  const field = (name: string, value: string): string => `<member><name>${name}</name><value>${value}</value></member>`;
  const replies = [
    token(
      field('aps_token', '<string>tok-abc-123</string>') +
        field('controller_uri', '<string>https://oa.example:6308/</string>'),
    ),
    token(field('aps_token', '<string></string>')),
    token(field('controller_uri', '<string>https://oa.example:6308/</string>')),
    token(field('aps_token', '<string>tok-abc-123</string>') + field('controller_uri', '<string>tok-abc-123</string>')),
    ok('<array><data></data></array>'),
  ];
  await withOa(
    (res, _seen, count) => xml(res, replies[count - 1]!),
    async (client) => {
      assert.deepEqual(await client.issueToken(7), { token: 'tok-abc-123', controllerUri: 'https://oa.example:6308/' });
      const expected = [
        'expected result.aps_token to be a non-empty string, got an empty string',
        'expected result.aps_token to be a non-empty string, got nothing',
        'expected result.controller_uri to be an http(s) URL, got a string',
        'expected result to be a struct, got an array',
      ];
      for (const words of expected) {
        await assert.rejects(client.issueToken(7), (e: unknown) => {
          assert.ok(e instanceof ProtocolError);
          assert.equal(e.message, `OA pem.APS.getApplicationInstanceToken: ${words}`);
          assert.ok(!e.message.includes('tok-abc'));
          return true;
        });
      }
    },
  );
});

test('instance lists of the wrong shape are ProtocolErrors saying what was expected', async () => {
  const replies = [
    ok('<struct></struct>'),
    ok(`<array><data>${instance('<string>7</string>', 'u')}</data></array>`),
    ok(`<array><data>${instance('<double>7.5</double>', 'u')}</data></array>`),
    ok(`<array><data>${instance('<int>7</int>', '')}</data></array>`),
    ok('<array><data><value><int>7</int></value></data></array>'),
    ok(`<array><data>${instance('<int>9007199254740993</int>', 'u')}</data></array>`),
  ];
  const expected = [
    /expected result to be an array of instances, got a struct$/,
    /expected result\[0\]\.application_instance_id to be an integer, got a string$/,
    /expected result\[0\]\.application_instance_id to be an integer, got the number 7\.5$/,
    /expected result\[0\]\.application_resource_id to be a non-empty string, got an empty string$/,
    /expected result\[0\] to be a struct, got the number 7$/,
    /not valid XML-RPC: expected an integer of at most 2\^53-1 but got '9007199254740993'/,
  ];
  await withOa(
    (res, _seen, count) => xml(res, replies[count - 1]!),
    async (client) => {
      for (const words of expected) {
        await assert.rejects(
          client.listInstances(41),
          (e: unknown) => e instanceof ProtocolError && words.test(e.message),
        );
      }
    },
  );
});

test('an OA error reply is an OaError, and ids that are not safe integers are never sent', async () => {
  const failure =
    '<?xml version="1.0"?><methodResponse><params><param><value><struct>' +
    '<member><name>status</name><value><i4>-1</i4></value></member>' +
    '<member><name>error_message</name><value><string>Application with ID 41 is not found.</string></value></member>' +
    '<member><name>module_id</name><value><string>APS</string></value></member>' +
    '<member><name>extype_id</name><value><i4>2207</i4></value></member>' +
    '</struct></value></param></params></methodResponse>';
  await withOa(
    (res) => xml(res, failure),
    async (client, requests) => {
      await assert.rejects(
        client.listInstances(41),
        (e: unknown) => e instanceof OaError && e.errorMessage === 'Application with ID 41 is not found.',
      );
      await assert.rejects(client.listInstances(2 ** 53), RangeError);
      await assert.rejects(client.issueToken(7.5), RangeError);
      assert.equal(requests.length, 1);
    },
  );
});

test('a reply is read as XML-RPC whatever its content type says, or with none', async () => {
  const body = ok('<struct><member><name>aps_token</name><value><string>tok-1</string></value></member></struct>');
  for (const type of ['text/plain', 'application/octet-stream', undefined]) {
    await withOa(
      (res) => {
        res.writeHead(200, type ? { 'Content-Type': type } : {});
        res.end(body);
      },
      async (client) => {
        assert.deepEqual(await client.issueToken(7), { token: 'tok-1' }, `content type ${type}`);
      },
    );
  }
});

test('an HTML page is a ProtocolError with its headline, whether or not it says it is HTML', async () => {
  for (const type of ['text/html; charset=utf-8', 'text/plain', undefined]) {
    await withOa(
      (res) => {
        res.writeHead(200, type ? { 'Content-Type': type } : {});
        res.end(
          '<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome</h1></body></html>',
        );
      },
      async (client, requests) => {
        await assert.rejects(client.listInstances(41), {
          name: 'ProtocolError',
          message: `OA pem.APS.getApplicationInstances: expected an XML-RPC reply, got an HTML page (content type '${type ?? 'none'}'): Welcome to nginx!`,
        });
        assert.equal(requests.length, 1);
      },
    );
  }
});

test('the stop signal abandons a request OA does not answer, and it is not retried', async () => {
  const stop = new AbortController();
  await withOa(
    () => stop.abort(), // never answers; the run is told to stop meanwhile
    async (client, requests) => {
      await assert.rejects(client.issueToken(7), (e: unknown) => {
        assert.ok(e instanceof NetworkError);
        assert.match(e.message, /request abandoned: the run is stopping$/);
        return true;
      });
      assert.equal(requests.length, 1);
    },
    { requestTimeoutMs: 20_000, retries: 1 },
    stop.signal,
  );
});

test('once the run is stopping, a request does not even open a connection', async () => {
  // A connection could take up to CONNECT_TIMEOUT_MS to a host that does not answer.
  let connections = 0;
  const server = createTcpServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stop = new AbortController();
  stop.abort();
  const config = {
    oaHost: '127.0.0.1',
    oaPort: (server.address() as AddressInfo).port,
    oaTls: false,
    oaUser: 'admin',
    oaPassword: PASSWORD,
  };
  const client = new OaClient(
    { ...config, connectTimeoutMs: 1000, requestTimeoutMs: 2000, maxBodyBytes: 4096, retries: 1, retryMaxDelayMs: 5 },
    undefined,
    stop.signal,
  );
  try {
    await assert.rejects(client.issueToken(7), /request abandoned: the run is stopping$/);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(connections, 0);
  } finally {
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('an oversized reply is a BodyTooLargeError as soon as its Content-Length says so', async () => {
  const big = ok(`<string>${'x'.repeat(10_000)}</string>`);
  await withOa(
    (res) => {
      res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(big) });
      res.end(big);
    },
    async (client) => {
      await assert.rejects(
        client.listInstances(41),
        (e: unknown) => e instanceof BodyTooLargeError && e.limitBytes === 4096,
      );
    },
  );
});

test('an oversized reply is a BodyTooLargeError, counted as it streams in', async () => {
  const big = ok(`<string>${'x'.repeat(10_000)}</string>`);
  await withOa(
    (res) => {
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.write(big.slice(0, 3000));
      res.end(big.slice(3000));
    },
    async (client, requests) => {
      await assert.rejects(
        client.listInstances(41),
        (e: unknown) => e instanceof BodyTooLargeError && e.limitBytes === 4096,
      );
      assert.equal(requests.length, 1);
    },
  );
});

test('a server that never answers is a NetworkError after the request timeout, retried', async () => {
  await withOa(
    () => undefined,
    async (client, requests) => {
      const started = Date.now();
      await assert.rejects(client.listInstances(41), (e: unknown) => {
        assert.ok(e instanceof NetworkError);
        assert.equal(
          e.message,
          `OA Public API at http://127.0.0.1:${new URL(`http://${requests[0]!.headers.host}`).port}: no answer within 300 ms`,
        );
        return true;
      });
      const elapsed = Date.now() - started;
      assert.equal(requests.length, 2);
      // Two attempts, each waiting out the 300 ms bound: it cannot be quicker than that.
      assert.ok(elapsed >= 550, `took ${elapsed} ms`);
    },
    { requestTimeoutMs: 300, retries: 1 },
  );
});
