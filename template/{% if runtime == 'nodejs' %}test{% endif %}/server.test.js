'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const net = require('node:net');
const { IDLE_TIMEOUT_SECONDS, createServer } = require('../src/server');

let server;
let base;

test.before(async () => {
  server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${server.address().port}`;
});

test.after(() => new Promise((resolve) => server.close(resolve)));

// The server logs one line per request; keep the test output clean.
test.beforeEach((t) => t.mock.method(console, 'log', () => {}));

async function request(path, method = 'GET') {
  const response = await fetch(base + path, { method });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

test('GET /health answers 200 with JSON', async () => {
  const { status, headers, body } = await request('/health');
  assert.equal(status, 200);
  assert.equal(headers.get('content-type'), 'application/json');
  assert.equal(body.status, 'ok');
});

test('GET /hello decodes the query string', async () => {
  const { status, body } = await request('/hello?name=Ada%20Lovelace');
  assert.equal(status, 200);
  assert.deepEqual(body, { message: 'Hello, Ada Lovelace!' });
});

test('errors are JSON too', async () => {
  const invalid = await request('/hello?name=%3Cb%3E');
  assert.equal(invalid.status, 400);
  assert.match(invalid.body.error, /^name /);

  const missing = await request('//example.com/health');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { error: 'not found' });

  const notAllowed = await request('/health', 'POST');
  assert.equal(notAllowed.status, 405);
  assert.equal(notAllowed.headers.get('allow'), 'GET, HEAD');
});

// The bytes the server answers to `request`, read until it closes the connection.
async function rawRequest(request) {
  const socket = net.connect(server.address().port, '127.0.0.1');
  socket.end(request);
  const chunks = [];
  for await (const chunk of socket) chunks.push(chunk);
  return Buffer.concat(chunks).toString('latin1');
}

test('every answer is neither sniffed nor stored, the HTTP parser\'s refusals too', async () => {
  for (const [path, method] of [['/health', 'GET'], ['/nope', 'GET'], ['/health', 'POST'], ['/hello?name=%3C', 'GET']]) {
    const { headers } = await request(path, method);
    assert.equal(headers.get('x-content-type-options'), 'nosniff', `${method} ${path}`);
    assert.equal(headers.get('cache-control'), 'no-store', `${method} ${path}`);
  }
  const refused = await rawRequest('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon\r\n\r\n');
  assert.match(refused, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(refused, /\r\ncontent-type: application\/json\r\n/);
  assert.match(refused, /\r\nx-content-type-options: nosniff\r\n/);
  assert.match(refused, /\r\ncache-control: no-store\r\n/);
  assert.match(refused, /\r\n\r\n\{"error":"bad request"\}$/);
});

test('logs one JSON line per request, without the query string', async () => {
  await request('/hello?name=Ada');
  const [line] = console.log.mock.calls.at(-1).arguments;
  const { ms, ...entry } = JSON.parse(line);
  assert.deepEqual(entry, { method: 'GET', path: '/hello', status: 200 });
  assert.equal(typeof ms, 'number');
});

test('HEAD answers as GET without a body', async () => {
  const get = await fetch(base + '/health');
  const getBody = await get.text();
  const head = await fetch(base + '/health', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-type'), 'application/json');
  assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(getBody)));
  assert.equal(await head.text(), '');
});

test('idle keep-alive connections stay open for IDLE_TIMEOUT_SECONDS', () => {
  assert.equal(server.keepAliveTimeout, IDLE_TIMEOUT_SECONDS * 1000);
  assert.ok(server.headersTimeout > server.keepAliveTimeout);
});
