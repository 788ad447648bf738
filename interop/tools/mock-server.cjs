// HARNESS VALIDATION ONLY — never used in CI.
// Starts Signal's own @signalapp/mock-server (installed outside this package; run with cwd and
// NODE_PATH pointing at a directory whose node_modules holds @signalapp/mock-server@27.0.0) on
// 127.0.0.1 with a random port, then prints one line `MOCK {json}` for lib/server.mjs.
// The mock serves the chat websocket only over HTTP/2 (extended CONNECT) and has no gRPC Keys
// service, so the suite skips those parts when HELIOGRAPH_INTEROP_TARGET=mock.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Server } = require('@signalapp/mock-server');

(async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hg-mock-'));
  const server = new Server({ cdn3Path: path.join(tmp, 'cdn3'), updates2Path: path.join(tmp, 'updates2') });
  await server.listen(0, '127.0.0.1');
  const zk = require('@signalapp/mock-server/certs/zk-params.json');
  process.stdout.write(`MOCK ${JSON.stringify({
    port: server.address().port,
    dataDir: tmp,
    trustRoot: Buffer.from(server.trustRoot.getPublicKey().serialize()).toString('base64'),
    zkPublicParams: zk.publicParams,
  })}\n`);
  const shutdown = async () => { try { await Promise.race([server.close(), new Promise((r) => setTimeout(r, 1000))]); } catch {} fs.rmSync(tmp, { recursive: true, force: true }); process.exit(0); };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
})().catch((e) => { console.error(e); process.exit(1); });
