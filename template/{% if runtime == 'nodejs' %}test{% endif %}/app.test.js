'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { SERVICE, route, headers } = require('../src/app');

test('GET /health reports the service and its version', (t) => {
  t.after(() => delete process.env.APP_VERSION);
  process.env.APP_VERSION = '1.2.3';
  assert.deepEqual(route('GET', '/health', {}), {
    status: 200,
    body: { status: 'ok', service: SERVICE, version: '1.2.3' },
  });
});

test('GET /health reports version dev without APP_VERSION', () => {
  delete process.env.APP_VERSION;
  assert.equal(route('GET', '/health', {}).body.version, 'dev');
});

test('GET /hello greets the name given', () => {
  assert.deepEqual(route('GET', '/hello', { name: 'Ada' }), { status: 200, body: { message: 'Hello, Ada!' } });
});

test('GET /hello greets the world without a name', () => {
  assert.deepEqual(route('GET', '/hello', {}).body, { message: 'Hello, world!' });
  assert.deepEqual(route('GET', '/hello', { name: '' }).body, { message: 'Hello, world!' });
});

test('GET /hello accepts up to 64 letters, digits, spaces, dashes, underscores and dots', () => {
  for (const name of ['Ada Lovelace', 'r2-d2_v1.0', 'x'.repeat(64)]) {
    assert.equal(route('GET', '/hello', { name }).status, 200, name);
  }
});

test('GET /hello rejects other names with 400', () => {
  for (const name of ['x'.repeat(65), '<script>', 'Ada!', 'a/b', 'Zoë', 'new\nline']) {
    const { status, body } = route('GET', '/hello', { name });
    assert.equal(status, 400, name);
    assert.match(body.error, /^name /);
  }
});

test('unknown paths are 404', () => {
  for (const path of ['/', '/nope', '/health/', '/HEALTH', '/constructor']) {
    assert.deepEqual(route('GET', path, {}), { status: 404, body: { error: 'not found' } }, path);
  }
});

test('HEAD answers as GET does', () => {
  for (const [path, query] of [['/health', {}], ['/hello', { name: 'Ada' }], ['/hello', { name: '<b>' }], ['/nope', {}]]) {
    assert.deepEqual(route('HEAD', path, query), route('GET', path, query), path);
  }
});

test('other methods on known paths are 405', () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    assert.deepEqual(route(method, '/hello', {}), { status: 405, body: { error: 'method not allowed' } });
  }
});

test('every response is JSON; a 405 names the allowed methods', () => {
  const common = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };
  assert.deepEqual(headers(200), { 'content-type': 'application/json', ...common });
  assert.deepEqual(headers(404), { 'content-type': 'application/json', ...common });
  assert.deepEqual(headers(405), { 'content-type': 'application/json', ...common, allow: 'GET, HEAD' });
});
