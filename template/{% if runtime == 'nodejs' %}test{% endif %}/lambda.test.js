'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { handler } = require('../src/lambda');

// The handler writes one JSON line per invocation to stdout; keep them from the test output.
test.beforeEach((t) => t.mock.method(process.stdout, 'write', () => true));

// Function URL / HTTP API event, payload format 2.0 (only the fields the handler reads).
function v2Event(method, rawPath, rawQueryString = '') {
  return { version: '2.0', rawPath, rawQueryString, requestContext: { http: { method, path: rawPath } } };
}

// REST API event, payload format 1.0.
function v1Event(httpMethod, path, queryStringParameters = null) {
  return { httpMethod, path, queryStringParameters, requestContext: {} };
}

async function invoke(event) {
  const response = await handler(event);
  assert.equal(typeof response.body, 'string');
  return { ...response, body: JSON.parse(response.body) };
}

test('answers a payload 2.0 event for /health', async () => {
  const response = await invoke(v2Event('GET', '/health'));
  assert.equal(response.statusCode, 200);
  assert.deepEqual(response.headers, {
    'content-type': 'application/json',
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  });
  assert.equal(response.body.status, 'ok');
});

test('logs one JSON line without the query string', async () => {
  await handler(v2Event('GET', '/hello', 'name=Ada'));
  const [line] = process.stdout.write.mock.calls.at(-1).arguments;
  const { ms, ...entry } = JSON.parse(line);
  assert.deepEqual(entry, { method: 'GET', path: '/hello', status: 200 });
  assert.equal(typeof ms, 'number');
  assert.ok(line.endsWith('\n'));
});

test('reads the query string of a payload 2.0 event', async () => {
  const response = await invoke(v2Event('GET', '/hello', 'name=Ada%20L'));
  assert.equal(response.statusCode, 200);
  assert.deepEqual(response.body, { message: 'Hello, Ada L!' });
});

test('falls back to queryStringParameters without rawQueryString', async () => {
  const event = { ...v2Event('GET', '/hello'), rawQueryString: undefined, queryStringParameters: { name: 'Ada' } };
  assert.deepEqual((await invoke(event)).body, { message: 'Hello, Ada!' });
});

test('answers a payload 1.0 (REST API) event', async () => {
  const response = await invoke(v1Event('GET', '/hello', { name: 'Grace' }));
  assert.equal(response.statusCode, 200);
  assert.deepEqual(response.body, { message: 'Hello, Grace!' });
  assert.deepEqual((await invoke(v1Event('GET', '/hello'))).body, { message: 'Hello, world!' });
});

test('passes errors through with their status', async () => {
  assert.equal((await invoke(v2Event('GET', '/hello', 'name=%3Cscript%3E'))).statusCode, 400);
  assert.equal((await invoke(v2Event('GET', '/missing'))).statusCode, 404);
  const notAllowed = await invoke(v1Event('POST', '/health'));
  assert.equal(notAllowed.statusCode, 405);
  assert.equal(notAllowed.headers.allow, 'GET, HEAD');
});

test('answers HEAD as GET without a body', async () => {
  const get = await handler(v2Event('GET', '/health'));
  assert.deepEqual(await handler(v2Event('HEAD', '/health')), { ...get, body: '' });
  assert.equal((await handler(v1Event('HEAD', '/nope'))).statusCode, 404);
});
