// Two Heliograph nodes behind no load balancer, sharing one PostgreSQL database and one Redis,
// started on the same key material (node B is seeded with node A's secrets/, tls/, public/).
// Alice talks to node A, Bob to node B: live delivery crosses nodes through Redis, queued
// messages are readable from either node, and a second socket on the other node displaces
// the first with 4409.
//
// HELIOGRAPH_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) and
// HELIOGRAPH_TEST_REDIS_URL (default redis://127.0.0.1:6379) must be reachable: the test fails
// otherwise, it never skips.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../lib/server.mjs';
import { HTTP_VERSIONS, makeNet, connectAuth, RecordingListener } from '../lib/net.mjs';
import { Device, IdentityKeys, ServiceIdKind, bundleFromJson, signedPreKeyJson, kemPreKeyJson } from '../lib/device.mjs';
import { registerRaw } from '../lib/register.mjs';
import { call, basicAuth, b64 } from '../lib/http.mjs';
import { sendRest } from '../lib/messages.mjs';
import { decodeEnvelope } from '../lib/envelope.mjs';
import { settleNative } from '../lib/native.mjs';

const PG = process.env.HELIOGRAPH_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS = process.env.HELIOGRAPH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const T = { timeout: 60000 };
const WAIT = 10000;

let nodeA; let nodeB;
before(async () => {
  const env = { HELIOGRAPH_BUS__NAMESPACE: `interop-${randomBytes(6).toString('hex')}` };
  const extraArgs = ['--database-url', PG, '--redis-url', REDIS];
  nodeA = await startServer({ extraArgs, env });
  nodeB = await startServer({ extraArgs, env, seedFrom: nodeA });
});
after(async () => {
  await settleNative();
  for (const n of [nodeA, nodeB]) if (n) await n.stop();
});

async function nextFrom(listener, ts, what) {
  const m = await listener.waitFor((l) => l.messages.find((x) => decodeEnvelope(x.envelope).clientTimestamp === ts), WAIT, what);
  return decodeEnvelope(m.envelope);
}

for (const httpVersion of HTTP_VERSIONS) {
  describe(`two nodes over HTTP/${httpVersion}`, { timeout: 180000 }, () => {
    let netA; let netB; let A; let B; let alice;
    before(async () => {
      netA = makeNet(nodeA, httpVersion);
      netB = makeNet(nodeB, httpVersion);
      A = (await registerRaw(netA, new Device({ label: 'alice' }))).device;
      B = (await registerRaw(netB, new Device({ label: 'bob' }))).device;
      alice = await connectAuth(netA, A.account);
      // Each node sees accounts registered on the other (one database).
      const res = await call(alice.chat, 'GET', `/v2/keys/${B.aci}/1`, 200);
      await A.processBundle(bundleFromJson(res.json.identityKey, res.json.devices[0]), B.address());
    });
    after(async () => { await alice?.chat.disconnect().catch(() => {}); });

    const send = async (text, ts) => {
      const ct = await A.encrypt(text, B.address());
      const res = await sendRest(alice.chat, B.aciServiceId, { timestamp: ts, contents: [{ deviceId: 1, registrationId: B.aciKeys.registrationId, contents: ct }] });
      assert.equal(res.status, 200, `send: ${res.status}`);
      return ct;
    };

    test('live: Alice on node A → Bob connected to node B', T, async () => {
      const bob = await connectAuth(netB, B.account);
      await bob.listener.waitFor((l) => l.queueEmpty > 0, WAIT, 'queue empty on node B');
      const ts = Date.now();
      const ct = await send('across nodes', ts);
      const env = await nextFrom(bob.listener, ts, 'live message on node B');
      const pt = await B.decrypt(A.address(), ct.type(), env.content);
      assert.equal(Buffer.from(pt).toString(), 'across nodes');
      await bob.chat.disconnect();
    });

    test('offline: queued through node A, read on node A by a Bob who used node B before', T, async () => {
      const t1 = Date.now() + 1; const t2 = t1 + 1;
      const c1 = await send('first while away', t1);
      const c2 = await send('second while away', t2);
      const bob = await connectAuth(netA, B.account);
      const e1 = await nextFrom(bob.listener, t1, 'first queued message');
      const e2 = await nextFrom(bob.listener, t2, 'second queued message');
      const order = bob.listener.messages.map((m) => decodeEnvelope(m.envelope).clientTimestamp);
      assert.ok(order.indexOf(t1) < order.indexOf(t2), 'queue order kept');
      await bob.listener.waitFor((l) => l.queueEmpty > 0, WAIT, 'queue empty after the backlog');
      assert.equal(Buffer.from(await B.decrypt(A.address(), c1.type(), e1.content)).toString(), 'first while away');
      assert.equal(Buffer.from(await B.decrypt(A.address(), c2.type(), e2.content)).toString(), 'second while away');
      await bob.chat.disconnect();
    });

    test('4409: Bob\'s socket on node A is displaced by his new socket on node B', T, async () => {
      const first = new RecordingListener();
      await connectAuth(netA, B.account, { listener: first });
      await first.waitFor((l) => l.queueEmpty > 0, WAIT, 'first socket ready');
      const second = await connectAuth(netB, B.account);
      await second.listener.waitFor((l) => l.queueEmpty > 0, WAIT, 'second socket ready');
      await first.waitFor((l) => l.interrupted.length > 0, WAIT, 'first socket closed');
      const cause = first.interrupted[0];
      assert.match(String(cause?.message ?? cause), /elsewhere/i, `closed as connected elsewhere: ${cause?.message}`);
      // Messages now reach the second socket.
      const ts = Date.now();
      await send('to the new socket', ts);
      await nextFrom(second.listener, ts, 'message on the displacing socket');
      await second.chat.disconnect();
    });

    test('linking across nodes: provisioning socket on node B, relay and link through node A', T, async () => {
      let resolveAddress; let resolveEnvelope;
      const address = new Promise((r) => { resolveAddress = r; });
      const envelope = new Promise((r) => { resolveEnvelope = r; });
      await netB.connectProvisioning({
        onReceivedAddress(a, ack) { ack.send(200); resolveAddress(a); },
        onReceivedEnvelope(e, ack) { ack.send(200); resolveEnvelope(e); },
        onConnectionInterrupted() {},
      });
      const addr = await address;
      const code = (await call(alice.chat, 'GET', '/v1/devices/provisioning/code', 200)).json;
      const body = new Uint8Array(randomBytes(200));
      await call(alice.chat, 'PUT', `/v1/provisioning/${encodeURIComponent(addr)}`, 204, { json: { body: b64(body) } });
      assert.deepEqual(Buffer.from(await envelope), Buffer.from(body), 'relayed from node A to node B');
      // The new device links through node A's unauthenticated socket and connects to node B.
      const A2 = new Device({ label: 'alice-2', e164: A.e164, deviceId: 2 });
      A2.keys[ServiceIdKind.Aci] = new IdentityKeys(ServiceIdKind.Aci, A.aciKeys.identity);
      A2.keys[ServiceIdKind.Pni] = new IdentityKeys(ServiceIdKind.Pni, A.pniKeys.identity);
      A2.setRegistered({ aci: A.aci, pni: A.pni });
      const a = A2.aciKeys.ensureBaseKeys(); const p = A2.pniKeys.ensureBaseKeys();
      const unauthA = await netA.connectUnauthenticatedChat(new RecordingListener());
      const linked = await call(unauthA, 'PUT', '/v1/devices/link', 200, {
        auth: basicAuth(A.e164, A2.password),
        json: {
          verificationCode: code.verificationCode,
          accountAttributes: { fetchesMessages: true, registrationId: a.registrationId, pniRegistrationId: p.registrationId, capabilities: { spqr: true } },
          aciSignedPreKey: signedPreKeyJson(a.signedPreKey), pniSignedPreKey: signedPreKeyJson(p.signedPreKey),
          aciPqLastResortPreKey: kemPreKeyJson(a.lastResort), pniPqLastResortPreKey: kemPreKeyJson(p.lastResort),
        },
      });
      assert.equal(linked.json.deviceId, 2);
      await unauthA.disconnect();
      const second = await connectAuth(netB, A2.account);
      const { devices } = (await call(second.chat, 'GET', '/v1/devices', 200)).json;
      assert.deepEqual(devices.map((d) => d.id).sort(), [1, 2]);
      await second.chat.disconnect();
    });
  });
}
