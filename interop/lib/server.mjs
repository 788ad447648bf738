// Start and stop a Heliograph server for one test file.
//
//   const srv = await startServer();       // {port, dataDir, caDer, trustRoot, stop(), stderr()}
//   ...
//   await srv.stop();                      // SIGTERM, must exit within 5 s
//
// Binary: env HELIOGRAPH_BIN, default ../target/debug/heliograph relative to interop/.
// The server is run as `heliograph serve --data-dir <fresh tmp dir> --listen 127.0.0.1:0` and must
// print `listening on https://127.0.0.1:PORT` on stdout.
//
// For harness validation only (never in CI): HELIOGRAPH_INTEROP_TARGET=mock starts Signal's own
// @signalapp/mock-server instead (see tools/mock-server.cjs and README). Tests consult
// `srv.kind` ('heliograph' | 'mock') to skip what the mock does not implement.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PublicKey } from '@signalapp/libsignal-client';

const INTEROP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const START_TIMEOUT_MS = Number(process.env.HELIOGRAPH_START_TIMEOUT_MS ?? 20000);
export const STOP_TIMEOUT_MS = 5000;

export function heliographBin() {
  return process.env.HELIOGRAPH_BIN
    ? path.resolve(process.env.HELIOGRAPH_BIN)
    : path.resolve(INTEROP_DIR, '..', 'target', 'debug', 'heliograph');
}

export function targetKind() {
  return process.env.HELIOGRAPH_INTEROP_TARGET === 'mock' ? 'mock' : 'heliograph';
}

/** Collects a child's output, keeping the tail for error messages. */
function tailBuffer(limit = 20000) {
  let text = '';
  return {
    push(chunk) { text += chunk.toString(); if (text.length > limit) text = text.slice(-limit); },
    get() { return text; },
  };
}

function waitForLine(child, pattern, timeoutMs, what, stderrTail) {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    const seen = [];
    const done = (fn, v) => { clearTimeout(timer); rl.removeAllListeners('line'); child.removeListener('exit', onExit); fn(v); };
    const timer = setTimeout(() => done(reject, new Error(
      `${what} did not print ${pattern} within ${timeoutMs} ms.\n--- stdout ---\n${seen.join('\n')}\n--- stderr ---\n${stderrTail.get()}`)), timeoutMs);
    const onExit = (code, sig) => done(reject, new Error(
      `${what} exited (code ${code}, signal ${sig}) before printing ${pattern}.\n--- stdout ---\n${seen.join('\n')}\n--- stderr ---\n${stderrTail.get()}`));
    child.once('exit', onExit);
    rl.on('line', (line) => {
      seen.push(line);
      const m = line.match(pattern);
      if (m) done(resolve, m);
    });
  });
}

function stopChild(child, stderrTail, what) {
  // Once the child is gone, drop our ends of its pipes: a grandchild that inherited them (e.g. a
  // wrapper script's subprocess) must not keep the test process alive.
  const release = () => { child.stdout?.destroy(); child.stderr?.destroy(); child.stdin?.destroy(); process.removeListener('exit', onExit); };
  // If the test process dies without running after(), do not leave the server behind.
  const onExit = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.on('exit', onExit);
  return async () => {
    try { return await stopInner(); } finally { release(); }
  };
  async function stopInner() {
    if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
    const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    child.kill('SIGTERM');
    let timer;
    const timeout = new Promise((r) => { timer = setTimeout(() => r(null), STOP_TIMEOUT_MS); });
    const res = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    if (res === null) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`${what} did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (killed).\n--- stderr ---\n${stderrTail.get()}`);
    }
    return res;
  }
}

/** Wait until `file` exists (the server writes public files on first start). */
async function readWhenPresent(file, timeoutMs = 5000) {
  const t0 = Date.now();
  for (;;) {
    try { return fs.readFileSync(file); } catch (e) {
      if (e.code !== 'ENOENT' || Date.now() - t0 > timeoutMs) throw new Error(`server did not write ${file}: ${e.message}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function startServer(opts = {}) {
  return targetKind() === 'mock' ? startMockServer(opts) : startHeliograph(opts);
}

/**
 * Options: `extraArgs` (CLI flags), `env`, and `seedFrom` (another running server whose key
 * material — secrets/, tls/, public/ — this one starts with, as nodes of one deployment do).
 */
async function startHeliograph({ extraArgs = [], env = {}, seedFrom = null } = {}) {
  const bin = heliographBin();
  if (!fs.existsSync(bin)) {
    throw new Error(`heliograph binary not found at ${bin}. Build it with \`cargo build -p heliograph-server\` or set HELIOGRAPH_BIN.`);
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'heliograph-interop-'));
  if (seedFrom) {
    for (const sub of ['secrets', 'tls', 'public']) {
      fs.cpSync(path.join(seedFrom.dataDir, sub), path.join(dataDir, sub), { recursive: true });
    }
  }
  const stderrTail = tailBuffer();
  const child = spawn(bin, ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  child.stderr.on('data', (d) => { stderrTail.push(d); if (process.env.HELIOGRAPH_INTEROP_VERBOSE) process.stderr.write(d); });
  const stop = stopChild(child, stderrTail, 'heliograph');
  let port;
  try {
    const m = await waitForLine(child, /listening on https:\/\/127\.0\.0\.1:(\d+)/, START_TIMEOUT_MS, `heliograph (${bin})`, stderrTail);
    port = Number(m[1]);
    // keep draining stdout so the child never blocks on a full pipe
    child.stdout.on('data', (d) => { if (process.env.HELIOGRAPH_INTEROP_VERBOSE) process.stdout.write(d); });
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
  const pub = path.join(dataDir, 'public');
  const caDer = new Uint8Array(await readWhenPresent(path.join(pub, 'tls-ca.der')));
  const trustRootBytes = new Uint8Array(await readWhenPresent(path.join(pub, 'unidentified-delivery-trust-root.pub')));
  return {
    kind: 'heliograph',
    port,
    dataDir,
    caDer,
    trustRoot: PublicKey.deserialize(trustRootBytes),
    /** zkgroup ServerPublicParams bytes, or null if the server has not written them (yet). */
    zkPublicParams() {
      const f = path.join(pub, 'zk-server-public-params.bin');
      return fs.existsSync(f) ? new Uint8Array(fs.readFileSync(f)) : null;
    },
    stderr: () => stderrTail.get(),
    async stop() {
      const res = await stop();
      if (!process.env.HELIOGRAPH_INTEROP_KEEP_DATA) fs.rmSync(dataDir, { recursive: true, force: true });
      return res;
    },
  };
}

// ---------------------------------------------------------------- harness validation only
// Signal's own mock server (@signalapp/mock-server, installed outside this package; set
// HELIOGRAPH_MOCK_DIR to a directory whose node_modules holds it). It serves HTTP/2 only.
async function startMockServer() {
  const mockDir = process.env.HELIOGRAPH_MOCK_DIR;
  if (!mockDir) throw new Error('HELIOGRAPH_INTEROP_TARGET=mock needs HELIOGRAPH_MOCK_DIR (a dir with node_modules/@signalapp/mock-server)');
  const script = path.join(INTEROP_DIR, 'tools', 'mock-server.cjs');
  const stderrTail = tailBuffer();
  const child = spawn(process.execPath, [script], {
    cwd: mockDir, stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_PATH: path.join(mockDir, 'node_modules') },
  });
  child.stderr.on('data', (d) => { stderrTail.push(d); if (process.env.HELIOGRAPH_INTEROP_VERBOSE) process.stderr.write(d); });
  const stop = stopChild(child, stderrTail, 'mock-server');
  let info;
  try {
    const m = await waitForLine(child, /^MOCK (.*)$/, START_TIMEOUT_MS, 'mock-server', stderrTail);
    info = JSON.parse(m[1]);
  } catch (e) { await stop().catch(() => {}); throw e; }
  child.stdout.on('data', () => {});
  const caPem = fs.readFileSync(path.join(mockDir, 'node_modules', '@signalapp', 'mock-server', 'certs', 'ca-cert.pem'), 'utf8');
  return {
    kind: 'mock',
    port: info.port,
    dataDir: info.dataDir,
    caDer: new Uint8Array(new crypto.X509Certificate(caPem).raw),
    trustRoot: PublicKey.deserialize(Buffer.from(info.trustRoot, 'base64')),
    zkPublicParams: () => (info.zkPublicParams ? new Uint8Array(Buffer.from(info.zkPublicParams, 'base64')) : null),
    stderr: () => stderrTail.get(),
    stop,
  };
}
