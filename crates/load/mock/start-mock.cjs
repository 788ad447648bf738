// Starts Signal's @signalapp/mock-server on 127.0.0.1 with a free port for heliograph-load
// (`--kind mock --spawn crates/load/mock/start-mock.cjs`). Prints the CA the mock's bundled
// certificate chains to, then `listening on https://ADDR`, and serves until killed.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Server } = require('@signalapp/mock-server');

(async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'heliograph-load-mock-'));
  // cdn3Path must be set or the tus store fails on mkdir('').
  const server = new Server({
    cdn3Path: path.join(tmp, 'cdn3'),
    updates2Path: path.join(tmp, 'updates2'),
  });
  await server.listen(0, '127.0.0.1');
  const pkg = path.dirname(require.resolve('@signalapp/mock-server/package.json'));
  process.stdout.write(`tls ca: ${path.join(pkg, 'certs', 'ca-cert.pem')}\n`);
  process.stdout.write(`listening on https://127.0.0.1:${server.address().port}\n`);
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
