// libsignal's own network stack (Net) pointed at our local server.
//
// `localTestServer: true` makes libsignal connect to 127.0.0.1:<port> and check TLS for the host
// name "localhost" against the DER root we pass. All four service ports must be non-zero; CDSI,
// SVR2 and SVR-B are unused here, so they all get the chat port.
import { Net as NetNs } from '@signalapp/libsignal-client';
import { decodeEnvelope } from './envelope.mjs';

export const HTTP_VERSIONS = (process.env.HELIOGRAPH_INTEROP_HTTP ?? '1,2')
  .split(',').map((s) => Number(s.trim())).filter((v) => v === 1 || v === 2);

/** @returns {import('@signalapp/libsignal-client').Net.Net} */
export function makeNet(server, httpVersion, userAgent = 'heliograph-interop') {
  if (httpVersion !== 1 && httpVersion !== 2) throw new Error(`httpVersion must be 1 or 2, got ${httpVersion}`);
  return new NetNs.Net({
    localTestServer: true,
    userAgent,
    TESTING_localServer_chatPort: server.port,
    TESTING_localServer_cdsiPort: server.port,
    TESTING_localServer_svr2Port: server.port,
    TESTING_localServer_svrBPort: server.port,
    TESTING_localServer_rootCertificateDer: server.caDer,
    TESTING_localServer_httpVersion: httpVersion,
  });
}

/**
 * A chat listener that records everything and lets tests wait for events without sleeping.
 * Works for both unauthenticated (only onConnectionInterrupted is used) and authenticated sockets.
 */
export class RecordingListener {
  /**
   * `autoAck`: true (ack every push with `ackStatus`, default 200) or false (never ack: the
   * message stays queued on the server).
   */
  constructor({ autoAck = true, ackStatus = 200 } = {}) {
    this.autoAck = autoAck;
    this.ackStatus = ackStatus;
    this.messages = []; // {envelope: Uint8Array, timestamp: number, ack}
    this.queueEmpty = 0;
    this.interrupted = [];
    this.alerts = [];
    this.events = []; // 'message' | 'queueEmpty' | 'interrupted' in arrival order
    this._waiters = [];
  }
  _notify() { for (const w of [...this._waiters]) w(); }
  onConnectionInterrupted(cause) { this.interrupted.push(cause ?? null); this.events.push('interrupted'); this._notify(); }
  onIncomingMessage(envelope, timestamp, ack) {
    this.messages.push({ envelope, timestamp, ack });
    this.events.push('message');
    if (this.autoAck) ack.send(this.ackStatus);
    this._notify();
  }
  /**
   * Wait for a pushed message whose decoded envelope matches pred and that no earlier call has
   * taken; marks it taken and returns {envelope, timestamp, ack, env (decoded)}.
   */
  async takeEnvelope(pred, timeoutMs = 10000, what = 'envelope') {
    const found = await this.waitFor((l) => l.messages.find((m) => !m.taken && pred(decodeEnvelope(m.envelope))), timeoutMs, what);
    found.taken = true;
    return { ...found, env: decodeEnvelope(found.envelope) };
  }
  /** Decoded envelopes received so far (in arrival order). */
  envelopes() { return this.messages.map((m) => decodeEnvelope(m.envelope)); }
  onQueueEmpty() { this.queueEmpty += 1; this.events.push('queueEmpty'); this._notify(); }
  onReceivedAlerts(alerts) { this.alerts.push(alerts); this._notify(); }
  /** Resolve once pred() is truthy (checked on each event); reject after timeoutMs. */
  waitFor(pred, timeoutMs = 5000, what = 'event') {
    return new Promise((resolve, reject) => {
      const check = () => {
        let v; try { v = pred(this); } catch (e) { cleanup(); reject(e); return; }
        if (v) { cleanup(); resolve(v); }
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)); }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); this._waiters = this._waiters.filter((w) => w !== check); };
      this._waiters.push(check);
      check();
    });
  }
}

export async function connectUnauth(net, listener = new RecordingListener()) {
  const chat = await net.connectUnauthenticatedChat(listener);
  return { chat, listener };
}

/** `account` = {aci: string, deviceId: number, password: string} */
export async function connectAuth(net, account, { receiveStories = false, listener = new RecordingListener() } = {}) {
  const chat = await net.connectAuthenticatedChat(`${account.aci}.${account.deviceId ?? 1}`, account.password, receiveStories, listener);
  return { chat, listener };
}
