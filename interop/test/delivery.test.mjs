// Delivery semantics on the authenticated socket: acks and redelivery, "connected elsewhere"
// (4409), re-authentication required (4401), ephemeral (online-only) messages, 1:1 stories and
// the HTTP fallback (GET /v1/messages, DELETE /v1/messages/uuid/{guid}).
//
// No sleeps: "nothing else arrived" is proven with onQueueEmpty after a reconnect (the server sends
// it after the stored backlog) or with a barrier message sent afterwards (the queue is delivered in
// order, so anything queued before the barrier would have been pushed before it). Before a
// recipient disconnects after acking, the test waits for the server delivery receipt at the
// sender: that receipt is only produced once the server has processed the ack.
//
// Not run against Signal's mock server (its primary devices are in-process, not sockets).
import assert from 'node:assert/strict';
import { randomUUID, X509Certificate } from 'node:crypto';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { ErrorCode } from '@signalapp/libsignal-client';
import { startServer, targetKind } from '../lib/server.mjs';
import { HTTP_VERSIONS, makeNet, connectUnauth, RecordingListener } from '../lib/net.mjs';
import { CiphertextMessageType } from '../lib/device.mjs';
import { b64, basicAuth, request, unb64 } from '../lib/http.mjs';
import { EnvelopeType } from '../lib/envelope.mjs';
import { settleNative } from '../lib/native.mjs';
import { registerWithKeys, connectDevice, establishSession, deliveryCertificate, uniqueTs } from '../lib/setup.mjs';

const MOCK = targetKind() === 'mock';
const T = { timeout: 30000 };
const WAIT_MS = 10000;

let srv;
before(async () => { if (!MOCK) srv = await startServer(); });
after(async () => {
  await settleNative();
  if (srv) await srv.stop();
});

const typeOf = (env) => (env.type === EnvelopeType.PREKEY_BUNDLE ? CiphertextMessageType.PreKey : CiphertextMessageType.Whisper);

/** Plain HTTPS (not the websocket) to the server, for the HTTP fallback endpoints. */
function httpsRequest(method, path, { auth } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: srv.port, servername: 'localhost', method, path,
      ca: new X509Certificate(srv.caDer).toString(),
      headers: { ...(auth ? { authorization: auth } : {}), 'user-agent': 'heliograph-interop' },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json; try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, text, json });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

for (const httpVersion of HTTP_VERSIONS) {
  describe(`delivery semantics over HTTP/${httpVersion}`, { timeout: 240000, skip: MOCK && 'not run against the mock server' }, () => {
    let net; let unauth; let alice; let bob = null;
    let A; let B;
    const need = () => assert.ok(alice && A && B, 'prerequisite failed: set-up did not complete');

    before(async () => {
      net = makeNet(srv, httpVersion);
      ({ chat: unauth } = await connectUnauth(net));
      A = await registerWithKeys(net, 'alice');
      B = await registerWithKeys(net, 'bob');
      alice = await connectDevice(net, A);
      await establishSession(unauth, A, B);
    });
    after(async () => {
      for (const c of [unauth, alice?.chat, bob?.chat]) await c?.disconnect().catch(() => {});
    });

    /** Identified Alice → Bob with the typed API (REST over HTTP/1.1, gRPC over HTTP/2). */
    const send = async (text, { onlineOnly = false } = {}) => {
      const ts = uniqueTs();
      const ct = await A.encrypt(text, B.address());
      await alice.chat.sendMessage({
        destination: B.aciServiceId, timestamp: ts, onlineOnly, urgent: true,
        contents: [{ deviceId: 1, registrationId: B.aciKeys.registrationId, contents: ct }],
      });
      return ts;
    };
    /** (Re)connect Bob; waits for onQueueEmpty. Returns the connection. */
    const reconnectBob = async (opts = {}) => {
      if (bob) { await bob.chat.disconnect(); bob = null; }
      bob = await connectDevice(net, B, opts);
      await bob.listener.waitFor((l) => l.queueEmpty >= 1, WAIT_MS, 'Bob: onQueueEmpty');
      return bob;
    };
    const messagesBeforeQueueEmpty = (l) => l.envelopes().slice(0, l.events.slice(0, l.events.indexOf('queueEmpty')).filter((e) => e === 'message').length);
    const barrier = async () => {
      const ts = await send('barrier');
      await bob.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, 'barrier at Bob');
      await receiptAtAlice(ts); // acked and deleted: it cannot come back on a later connection
      return ts;
    };
    const receiptAtAlice = (ts) => alice.listener.takeEnvelope((e) => e.type === EnvelopeType.SERVER_DELIVERY_RECEIPT && e.clientTimestamp === ts, WAIT_MS, `delivery receipt for ${ts}`);

    for (const [label, listenerOpts] of [['acked with 500', { ackStatus: 500 }], ['never acked', { autoAck: false }]]) {
      test(`a message ${label} stays queued and is redelivered on the next connection (same guid), then acked once`, T, async () => {
        need();
        await reconnectBob({ listener: new RecordingListener(listenerOpts) });
        const ts = await send(`redeliver me (${label})`);
        const first = await bob.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, 'first delivery');
        await reconnectBob();
        const again = messagesBeforeQueueEmpty(bob.listener).filter((e) => e.clientTimestamp === ts);
        assert.equal(again.length, 1, `redelivered once in the backlog (events ${bob.listener.events.join(',')})`);
        assert.equal(again[0].serverGuid, first.env.serverGuid, 'same server guid');
        assert.equal(Buffer.from(await B.decrypt(A.address(), typeOf(again[0]), again[0].content)).toString(), `redeliver me (${label})`);
        // the 200 ack now deletes it: the server sends Alice a delivery receipt...
        await receiptAtAlice(ts);
        // ...and a new connection gets only onQueueEmpty
        await reconnectBob();
        assert.deepEqual(messagesBeforeQueueEmpty(bob.listener).map((e) => e.clientTimestamp), [], 'nothing left in the queue');
        await barrier();
        assert.equal(bob.listener.envelopes().filter((e) => e.clientTimestamp === ts).length, 0, 'never delivered again');
      });
    }

    test('an acked message is never redelivered (explicit onQueueEmpty after reconnect, then a barrier)', T, async () => {
      need();
      await reconnectBob();
      const ts = await send('ack me');
      await bob.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, 'message at Bob');
      await receiptAtAlice(ts); // the server has processed the ack
      await reconnectBob();
      assert.equal(bob.listener.events[0], 'queueEmpty', `first event after reconnect is queue-empty (events ${bob.listener.events.join(',')}; timestamps ${bob.listener.envelopes().map((e) => e.clientTimestamp)}, acked one ${ts})`);
      await barrier();
      assert.deepEqual(bob.listener.envelopes().filter((e) => e.clientTimestamp === ts), [], 'acked message not pushed again');
    });

    test('ephemeral (online: true) reaches a connected recipient', T, async () => {
      need();
      await reconnectBob();
      const ts = await send('are you there', { onlineOnly: true });
      const { env } = await bob.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, 'ephemeral at Bob');
      assert.equal(Buffer.from(await B.decrypt(A.address(), typeOf(env), env.content)).toString(), 'are you there');
    });

    test('ephemeral (online: true) is not stored for an offline recipient', T, async () => {
      need();
      if (bob) { await bob.chat.disconnect(); bob = null; }
      const ts = await send('you are away', { onlineOnly: true });
      await reconnectBob();
      assert.deepEqual(messagesBeforeQueueEmpty(bob.listener).map((e) => e.clientTimestamp), [], 'reconnect → only onQueueEmpty');
      await barrier();
      assert.equal(bob.listener.envelopes().filter((e) => e.clientTimestamp === ts).length, 0, 'ephemeral never delivered');
    });

    test('a second connectAuthenticatedChat for the same device closes the first with ConnectedElsewhere (4409); messages go to the second', T, async () => {
      need();
      const first = await reconnectBob();
      bob = null;
      const second = await connectDevice(net, B);
      bob = second;
      const cause = await first.listener.waitFor((l) => l.interrupted.length >= 1 && l.interrupted, WAIT_MS, 'first socket interrupted');
      assert.ok(cause[0], 'interruption has a cause');
      assert.equal(cause[0].code, ErrorCode.ConnectedElsewhere, `cause ${cause[0]?.code}: ${cause[0]?.message}`);
      await second.listener.waitFor((l) => l.queueEmpty >= 1, WAIT_MS, 'second socket: onQueueEmpty');
      const ts = await send('to the new socket');
      await second.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, 'message at the second socket');
      await receiptAtAlice(ts);
      assert.equal(first.listener.envelopes().filter((e) => e.clientTimestamp === ts).length, 0, 'not at the displaced socket');
      // libsignal remembers why: later requests on the displaced socket fail with ConnectedElsewhere too
      await assert.rejects(request(first.chat, 'GET', '/v1/accounts/whoami'), (e) => {
        assert.equal(e.code, ErrorCode.ConnectedElsewhere, `fetch on the closed socket: ${e.code}: ${e.message}`);
        return true;
      });
      await first.chat.disconnect().catch(() => {});
    });

    test('a message left unacked on the displaced socket is delivered to the new one (same guid)', T, async () => {
      need();
      const first = await reconnectBob({ listener: new RecordingListener({ autoAck: false }) });
      bob = null;
      const ts = await send('unacked at the old socket');
      const m = await first.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, 'message at the first socket');
      const second = await connectDevice(net, B);
      bob = second;
      await first.listener.waitFor((l) => l.interrupted.length >= 1, WAIT_MS, 'first socket displaced');
      await second.listener.waitFor((l) => l.queueEmpty >= 1, WAIT_MS, 'second socket: onQueueEmpty');
      const again = messagesBeforeQueueEmpty(second.listener).filter((e) => e.clientTimestamp === ts);
      assert.equal(again.length, 1, `redelivered in the new socket's backlog (events ${second.listener.events.join(',')})`);
      assert.equal(again[0].serverGuid, m.env.serverGuid);
      await receiptAtAlice(ts);
      await first.chat.disconnect().catch(() => {});
    });

    test('deleting the account closes its socket with ConnectionInvalidated (4401)', T, async () => {
      need();
      const D = await registerWithKeys(net, 'dave');
      const dave = await connectDevice(net, D);
      await dave.listener.waitFor((l) => l.queueEmpty >= 1, WAIT_MS, 'Dave: onQueueEmpty');
      // the DELETE goes through the socket that is about to be closed: its response may race the close
      const res = await request(dave.chat, 'DELETE', '/v1/accounts/me').catch((e) => ({ status: null, error: e }));
      assert.ok([200, 204, null].includes(res.status), `DELETE /v1/accounts/me → ${res.status} ${res.text ?? res.error}`);
      const cause = await dave.listener.waitFor((l) => l.interrupted.length >= 1 && l.interrupted, WAIT_MS, 'socket closed after deletion');
      assert.equal(cause[0]?.code, ErrorCode.ConnectionInvalidated, `cause ${cause[0]?.code}: ${cause[0]?.message}`);
      await dave.chat.disconnect().catch(() => {});
      // the account is gone for senders too
      const gone = await request(alice.chat, 'PUT', `/v1/messages/${D.aci}`, {
        json: { messages: [{ type: 1, destinationDeviceId: 1, destinationRegistrationId: D.aciKeys.registrationId, content: b64(new Uint8Array(40).fill(2)) }], online: false, urgent: true, timestamp: uniqueTs() },
      });
      assert.equal(gone.status, 404, `send to the deleted account → ${gone.status} ${gone.text}`);
    });

    test('1:1 story (?story=true, no access key): withheld from a socket without receiveStories and dropped; delivered with it', T, async () => {
      need();
      const cert = await deliveryCertificate(alice.chat, srv.trustRoot);
      const sealed = async (text) => [{ deviceId: 1, registrationId: B.aciKeys.registrationId, contents: await A.sealedEncrypt(text, B.address(), cert) }];
      await reconnectBob({ receiveStories: false });
      const ts1 = uniqueTs();
      const c1 = await sealed('story one');
      const res = await request(unauth, 'PUT', `/v1/messages/${B.aci}?story=true`, {
        json: { messages: c1.map((c) => ({ type: 6, destinationDeviceId: 1, destinationRegistrationId: c.registrationId, content: b64(c.contents) })), online: false, urgent: false, timestamp: ts1 },
      });
      assert.equal(res.status, 200, `story send → ${res.status} ${res.text}`);
      assert.deepEqual(res.json, { needsSync: false });
      await barrier();
      assert.equal(bob.listener.envelopes().filter((e) => e.clientTimestamp === ts1).length, 0, 'story withheld');
      await reconnectBob({ receiveStories: true });
      assert.deepEqual(messagesBeforeQueueEmpty(bob.listener).filter((e) => e.clientTimestamp === ts1), [], 'withheld story was dropped, not kept');
      // typed: REST ?story=true over HTTP/1.1, gRPC MessagesAnonymous/SendStory over HTTP/2
      const ts2 = uniqueTs();
      await unauth.sendMessage({ destination: B.aciServiceId, timestamp: ts2, onlineOnly: false, urgent: false, auth: 'story', contents: await sealed('story two') });
      const { env } = await bob.listener.takeEnvelope((e) => e.clientTimestamp === ts2, WAIT_MS, 'story at Bob');
      assert.equal(env.story, true);
      assert.equal(env.type, EnvelopeType.UNIDENTIFIED_SENDER);
      assert.equal(Buffer.from((await B.sealedDecrypt(env.content, srv.trustRoot)).message()).toString(), 'story two');
    });

    test('1:1 story to an unknown account: 200 {needsSync:false}', T, async () => {
      need();
      const res = await request(unauth, 'PUT', `/v1/messages/${randomUUID()}?story=true`, {
        json: { messages: [{ type: 6, destinationDeviceId: 1, destinationRegistrationId: 1, content: b64(new Uint8Array(40).fill(1)) }], online: false, urgent: false, timestamp: uniqueTs() },
      });
      assert.equal(res.status, 200, `${res.status} ${res.text}`);
      assert.deepEqual(res.json, { needsSync: false });
    });

    test('HTTP fallback: GET /v1/messages lists a queued message, DELETE /v1/messages/uuid/{guid} → 204 removes it', T, async () => {
      need();
      if (bob) { await bob.chat.disconnect(); bob = null; }
      const ts = await send('fetched over http');
      const auth = basicAuth(B.username, B.password);
      const list = await httpsRequest('GET', '/v1/messages', { auth });
      assert.equal(list.status, 200, `GET /v1/messages → ${list.status} ${list.text}`);
      assert.equal(list.json.more, false);
      const m = list.json.messages.find((x) => x.timestamp === ts);
      assert.ok(m, `message listed: ${list.text.slice(0, 500)}`);
      assert.equal(m.sourceUuid, A.aci);
      assert.equal(m.sourceDevice, 1);
      assert.equal(m.destinationUuid, B.aci);
      assert.ok([1, 3].includes(m.type), `type ${m.type}`);
      assert.equal(m.urgent, true);
      assert.equal(m.story, false);
      assert.ok(m.serverTimestamp > 0);
      assert.match(m.guid, /^[0-9a-f-]{36}$/);
      const env = { type: m.type === 3 ? EnvelopeType.PREKEY_BUNDLE : EnvelopeType.CIPHERTEXT };
      assert.equal(Buffer.from(await B.decrypt(A.address(), typeOf(env), unb64(m.content))).toString(), 'fetched over http');
      const del = await httpsRequest('DELETE', `/v1/messages/uuid/${m.guid}`, { auth });
      assert.equal(del.status, 204, `DELETE → ${del.status} ${del.text}`);
      const after2 = await httpsRequest('GET', '/v1/messages', { auth });
      assert.equal(after2.json.messages.filter((x) => x.guid === m.guid).length, 0, 'gone from the list');
      await reconnectBob();
      assert.deepEqual(messagesBeforeQueueEmpty(bob.listener).filter((e) => e.clientTimestamp === ts), [], 'not pushed after the HTTP delete');
      const wrong = await httpsRequest('GET', '/v1/messages', { auth: basicAuth(B.username, 'wrong') });
      assert.equal(wrong.status, 401, `bad password → ${wrong.status}`);
    });


    test('HTTP fallback pages: 101 queued → 100 listed with more=true; the socket then drains all 101 in order', { ...T, timeout: 90000 }, async () => {
      need();
      if (bob) { await bob.chat.disconnect(); bob = null; }
      const stamps = [];
      for (let i = 0; i < 101; i++) {
        const ts = uniqueTs();
        stamps.push(ts);
        const ct = await A.encrypt(`bulk ${i}`, B.address());
        const r = await request(alice.chat, 'PUT', `/v1/messages/${B.aci}`, {
          json: { messages: [{ type: ct.type() === CiphertextMessageType.PreKey ? 3 : 1, destinationDeviceId: 1, destinationRegistrationId: B.aciKeys.registrationId, content: b64(ct.serialize()) }], online: false, urgent: false, timestamp: ts },
        });
        assert.equal(r.status, 200, r.text);
      }
      const auth = basicAuth(B.username, B.password);
      const page = await httpsRequest('GET', '/v1/messages', { auth });
      assert.equal(page.status, 200, page.text.slice(0, 300));
      assert.equal(page.json.messages.length, 100, 'at most 100 per page');
      assert.equal(page.json.more, true, 'more=true');
      assert.deepEqual(page.json.messages.map((m) => m.timestamp), stamps.slice(0, 100), 'queue order');
      assert.ok(page.json.messages.every((m) => m.urgent === false), 'urgent=false kept');
      bob = await connectDevice(net, B);
      await bob.listener.waitFor((l) => l.queueEmpty >= 1, 30000, 'Bob: onQueueEmpty after 101 messages');
      assert.deepEqual(messagesBeforeQueueEmpty(bob.listener).map((e) => e.clientTimestamp).filter((t) => stamps.includes(t)), stamps, 'all 101, in order, before queue-empty');
      await receiptAtAlice(stamps[100]);
    });

    test('sealed-sender messages produce no delivery receipt when acked', T, async () => {
      need();
      await reconnectBob();
      const cert = await deliveryCertificate(alice.chat, srv.trustRoot);
      const ts = uniqueTs();
      await unauth.sendMessage({
        destination: B.aciServiceId, timestamp: ts, onlineOnly: false, urgent: true, auth: { accessKey: B.unidentifiedAccessKey },
        contents: [{ deviceId: 1, registrationId: B.aciKeys.registrationId, contents: await A.sealedEncrypt('sealed, no receipt', B.address(), cert) }],
      });
      await bob.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, 'sealed message at Bob');
      // Bob acked it before the barrier; a receipt for it would reach Alice before the barrier's receipt
      await barrier();
      assert.equal(alice.listener.envelopes().filter((e) => e.type === EnvelopeType.SERVER_DELIVERY_RECEIPT && e.clientTimestamp === ts).length, 0, 'no receipt for a sealed message');
    });

    test('at most 256 unacked pushes in flight; acks refill in batches of 64', { ...T, timeout: 120000 }, async () => {
      need();
      if (bob) { await bob.chat.disconnect(); bob = null; }
      const N = 330;
      const stamps = [];
      for (let i = 0; i < N; i++) {
        const ts = uniqueTs();
        stamps.push(ts);
        const r = await request(alice.chat, 'PUT', `/v1/messages/${B.aci}`, {
          json: { messages: [{ type: 1, destinationDeviceId: 1, destinationRegistrationId: B.aciKeys.registrationId, content: b64(new Uint8Array(40).fill(3)) }], online: false, urgent: false, timestamp: ts },
        });
        assert.equal(r.status, 200, r.text);
      }
      const listener = new RecordingListener({ autoAck: false });
      bob = await connectDevice(net, B, { listener });
      await listener.waitFor((l) => l.messages.length >= 256, 30000, '256 pushes');
      assert.equal(listener.queueEmpty, 0, 'no queue-empty while the backlog is unacked');
      // A request on Bob's own socket is read after every ack sent before it, and its answer
      // follows any push those acks released.
      const barrierOnBob = async () => {
        const probe = await request(bob.chat, 'GET', '/v1/accounts/whoami');
        assert.equal(probe.status, 200, probe.text);
      };
      // 63 acks leave 193 in flight: no room for a batch of 64, so nothing more is pushed.
      for (const m of listener.messages.slice(0, 63)) m.ack.send(200);
      await barrierOnBob();
      assert.equal(listener.messages.length, 256, `no push after 63 acks (got ${listener.messages.length})`);
      // The 64th frees a whole batch.
      listener.messages[63].ack.send(200);
      await listener.waitFor((l) => l.messages.length >= 320, WAIT_MS, 'the next batch after 64 acks');
      await barrierOnBob();
      assert.equal(listener.messages.length, 320, `exactly one batch more after 64 acks (got ${listener.messages.length})`);
      for (const m of listener.messages.slice(64)) m.ack.send(200);
      listener.autoAck = true;
      await listener.waitFor((l) => l.queueEmpty >= 1, 30000, 'queue empty after acking everything');
      const got = listener.envelopes().map((e) => e.clientTimestamp).filter((t) => stamps.includes(t));
      assert.deepEqual(got, stamps, 'all, once each, in order');
      await receiptAtAlice(stamps[N - 1]);
    });
  });
}
