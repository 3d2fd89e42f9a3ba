'use strict';

// HTTP server for EC2 and ECS: `node src/server.js`, port from PORT (default 8080).

const http = require('node:http');
const { SERVICE, route, headers } = require('./app');

function createServer() {
  return http.createServer((req, res) => {
    const started = performance.now();
    const [path, search] = splitUrl(req.url);
    const query = Object.fromEntries(new URLSearchParams(search));
    const { status, body } = route(req.method, path, query);
    const payload = JSON.stringify(body);
    res.writeHead(status, { ...headers(status), 'content-length': Buffer.byteLength(payload) });
    res.end(payload); // Node itself leaves the body out of HEAD responses
    // The path only: query strings can carry personal data.
    console.log(`${req.method} ${path} ${status} ${(performance.now() - started).toFixed(1)}ms`);
  });
}

// Splits "/path?query" at the first '?'. Unlike new URL(), this never throws and
// never reads "//host/path" as a host name.
function splitUrl(url) {
  const at = url.indexOf('?');
  return at === -1 ? [url, ''] : [url.slice(0, at), url.slice(at + 1)];
}

function main() {
  const port = Number(process.env.PORT) || 8080;
  const server = createServer();
  server.listen(port, '0.0.0.0', () => console.log(`${SERVICE} listening on port ${port}`));

  // ECS and systemd stop the app with SIGTERM: stop accepting connections, let the
  // requests in flight finish; the process then exits with code 0.
  process.once('SIGTERM', () => {
    console.log('SIGTERM received, shutting down');
    server.close(() => console.log('stopped'));
  });
}

if (require.main === module) {
  main();
}

module.exports = { createServer };
