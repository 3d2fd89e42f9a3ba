'use strict';

// AWS Lambda entry point (handler "src/lambda.handler"). Accepts function URL and
// HTTP API events (payload format 2.0) and REST API events (payload format 1.0)
// and answers them with the same routes as the HTTP server.

const { route, headers } = require('./app');

exports.handler = async (event) => {
  const started = performance.now();
  const http = event.requestContext?.http; // only in payload format 2.0
  const method = http ? http.method : event.httpMethod;
  const path = (http ? event.rawPath : event.path) ?? '/';
  const query = typeof event.rawQueryString === 'string'
    ? Object.fromEntries(new URLSearchParams(event.rawQueryString))
    : { ...event.queryStringParameters };

  const { status, body } = route(method, path, query);
  // One JSON line per request, as the server logs; the path only: query strings can carry
  // personal data. Written to stdout, not with console.log, which Lambda's JSON log format
  // would wrap, the line quoted, in an object of its own.
  const ms = Number((performance.now() - started).toFixed(1));
  process.stdout.write(`${JSON.stringify({ method, path, status, ms })}\n`);
  // HEAD answers as GET does, without a body.
  return { statusCode: status, headers: headers(status), body: method === 'HEAD' ? '' : JSON.stringify(body) };
};
