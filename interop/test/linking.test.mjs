// Multi-device: a libsignal "secondary" links through the provisioning socket, then messages
// fan out to every device, sync messages reach the other devices, device lists and removals
// behave as the official server's do. Over HTTP/1.1 and HTTP/2.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ErrorCode } from '@signalapp/libsignal-client';
import { startServer } from '../lib/server.mjs';
import { HTTP_VERSIONS, makeNet, connectUnauth } from '../lib/net.mjs';
import { Device, IdentityKeys, ServiceIdKind, bundleFromJson, signedPreKeyJson, kemPreKeyJson } from '../lib/device.mjs';
import { call, request, basicAuth, b64 } from '../lib/http.mjs';
import { registerWithKeys, connectDevice, uniqueTs } from '../lib/setup.mjs';
import { sendRest } from '../lib/messages.mjs';
import { decodeEnvelope } from '../lib/envelope.mjs';
import { settleNative } from '../lib/native.mjs';

const T = { timeout: 60000 };
const WAIT = 10000;

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await settleNative(); if (srv) await srv.stop(); });

/** A new device of `primary`'s account: same identity keys, its own prekeys and registration ids. */
function secondaryOf(primary, deviceId) {
  const d = new Device({ label: `${primary.label}-${deviceId}`, e164: primary.e164, deviceId });
  d.keys[ServiceIdKind.Aci] = new IdentityKeys(ServiceIdKind.Aci, primary.aciKeys.identity);
  d.keys[ServiceIdKind.Pni] = new IdentityKeys(ServiceIdKind.Pni, primary.pniKeys.identity);
  d.profileKey = primary.profileKey; d.unidentifiedAccessKey = primary.unidentifiedAccessKey;
  d.setRegistered({ aci: primary.aci, pni: primary.pni });
  return d;
}

function linkBody(device, verificationCode, capabilities = { spqr: true }) {
  const a = device.aciKeys.ensureBaseKeys(); const p = device.pniKeys.ensureBaseKeys();
  return {
    verificationCode,
    accountAttributes: { fetchesMessages: true, registrationId: a.registrationId, pniRegistrationId: p.registrationId, name: b64(randomBytes(20)), capabilities },
    aciSignedPreKey: signedPreKeyJson(a.signedPreKey), pniSignedPreKey: signedPreKeyJson(p.signedPreKey),
    aciPqLastResortPreKey: kemPreKeyJson(a.lastResort), pniPqLastResortPreKey: kemPreKeyJson(p.lastResort),
  };
}

/** Opens a provisioning socket; resolves {address, envelope: Promise, conn}. */
async function provisioningSocket(net) {
  let resolveAddress; let resolveEnvelope;
  const address = new Promise((r) => { resolveAddress = r; });
  const envelope = new Promise((r) => { resolveEnvelope = r; });
  const interrupted = [];
  const conn = await net.connectProvisioning({
    onReceivedAddress(a, ack) { ack.send(200); resolveAddress(a); },
    onReceivedEnvelope(e, ack) { ack.send(200); resolveEnvelope(e); },
    onConnectionInterrupted(cause) { interrupted.push(cause); },
  });
  return { address: await address, envelope, conn, interrupted };
}

for (const httpVersion of HTTP_VERSIONS) {
  describe(`linking over HTTP/${httpVersion}`, { timeout: 240000 }, () => {
    let net; let A; let B; let B2; let alice; let bob; let bob2; let unauth;
    before(async () => {
      net = makeNet(srv, httpVersion);
      A = await registerWithKeys(net, 'alice');
      B = await registerWithKeys(net, 'bob');
      alice = await connectDevice(net, A);
      bob = await connectDevice(net, B);
      unauth = (await connectUnauth(net)).chat;
    });
    after(async () => { for (const c of [alice, bob, bob2]) await c?.chat.disconnect().catch(() => {}); await unauth?.disconnect().catch(() => {}); });

    test('a secondary links through the provisioning socket; the primary\'s long poll sees it', T, async () => {
      const prov = await provisioningSocket(net);
      assert.match(prov.address, /^[A-Za-z0-9_-]+=*$/, 'URL-safe base64 address');
      const code = (await call(bob.chat, 'GET', '/v1/devices/provisioning/code', 200)).json;
      assert.ok(code.verificationCode.startsWith(`${B.aci}.`));
      const waiting = request(bob.chat, 'GET', `/v1/devices/wait_for_linked_device/${code.tokenIdentifier}?timeout=30`, { timeoutMillis: 40000 });
      const envelope = new Uint8Array(randomBytes(300)); // opaque to the server: the primary's encrypted ProvisionEnvelope
      await call(bob.chat, 'PUT', `/v1/provisioning/${encodeURIComponent(prov.address)}`, 204, { json: { body: b64(envelope) } });
      assert.deepEqual(Buffer.from(await prov.envelope), Buffer.from(envelope), 'relayed unchanged');
      await call(bob.chat, 'PUT', `/v1/provisioning/${encodeURIComponent(prov.address)}`, 404, { json: { body: b64(envelope) } });

      B2 = secondaryOf(B, 2);
      const linked = await call(unauth, 'PUT', '/v1/devices/link', 200, { json: linkBody(B2, code.verificationCode), auth: basicAuth(B.e164, B2.password) });
      assert.deepEqual(linked.json, { uuid: B.aci, pni: B.pni, deviceId: 2 });
      const waited = await waiting;
      assert.equal(waited.status, 200, `wait_for_linked_device: ${waited.status}`);
      assert.equal(JSON.parse(Buffer.from(waited.body).toString()).id, 2);
      // The token is single-use.
      const B3 = secondaryOf(B, 3);
      await call(unauth, 'PUT', '/v1/devices/link', 403, { json: linkBody(B3, code.verificationCode), auth: basicAuth(B.e164, B3.password) });
      await call(unauth, 'PUT', '/v1/devices/link', 403, { json: linkBody(B3, `${B.aci}.${Date.now()}:AAAA`), auth: basicAuth(B.e164, B3.password) });

      bob2 = await connectDevice(net, B2);
      await call(bob2.chat, 'PUT', '/v2/keys', 204, { json: B2.keysUploadJson(ServiceIdKind.Aci, { oneTimeEc: 5, oneTimeKem: 5 }) });
    });

    test('GET /v1/devices lists both; createdAtCiphertext opens with the ACI identity key', T, async () => {
      const { devices } = (await call(bob2.chat, 'GET', '/v1/devices', 200)).json;
      assert.deepEqual(devices.map((d) => d.id).sort(), [1, 2]);
      for (const d of devices) {
        const regId = d.id === 1 ? B.aciKeys.registrationId : B2.aciKeys.registrationId;
        assert.equal(d.registrationId, regId);
        assert.equal(d.lastSeen % 86400000, 0, 'lastSeen is day-truncated');
        const aad = Buffer.alloc(5); aad.writeUInt8(d.id, 0); aad.writeUInt32BE(regId, 1);
        const pt = B.aciKeys.identity.privateKey.open(new Uint8Array(Buffer.from(d.createdAtCiphertext, 'base64')), new Uint8Array(Buffer.from('deviceCreatedAt')), new Uint8Array(aad));
        const created = Number(Buffer.from(pt).readBigUInt64BE());
        assert.ok(Math.abs(created - Date.now()) < 10 * 60 * 1000, `creation time ${created}`);
      }
    });

    test('Alice\'s message reaches both of Bob\'s devices; a stale device list gets 409 first', T, async () => {
      // Alice only knows device 1: 409 with missingDevices [2].
      const res1 = await call(alice.chat, 'GET', `/v2/keys/${B.aci}/1`, 200);
      await A.processBundle(bundleFromJson(res1.json.identityKey, res1.json.devices[0]), B.address());
      const ts0 = uniqueTs();
      const only1 = await sendRest(alice.chat, B.aciServiceId, { timestamp: ts0, contents: [{ deviceId: 1, registrationId: B.aciKeys.registrationId, contents: await A.encrypt('x', B.address()) }] });
      assert.equal(only1.status, 409);
      assert.deepEqual(JSON.parse(Buffer.from(only1.body).toString()), { missingDevices: [2], extraDevices: [] });
      // Recover: fetch every device's bundle, encrypt for each.
      const all = (await call(alice.chat, 'GET', `/v2/keys/${B.aci}/*`, 200)).json;
      assert.equal(all.devices.length, 2);
      const contents = [];
      for (const d of all.devices) {
        const addr = d.deviceId === 1 ? B.address() : B2.address();
        await A.processBundle(bundleFromJson(all.identityKey, d), addr);
        contents.push({ deviceId: d.deviceId, registrationId: d.registrationId, contents: await A.encrypt(`to device ${d.deviceId}`, addr) });
      }
      const ts = uniqueTs();
      const ok = await sendRest(alice.chat, B.aciServiceId, { timestamp: ts, contents });
      assert.equal(ok.status, 200);
      for (const [dev, conn, text] of [[B, bob, 'to device 1'], [B2, bob2, 'to device 2']]) {
        const m = await conn.listener.waitFor((l) => l.messages.find((x) => decodeEnvelope(x.envelope).clientTimestamp === ts), WAIT, `message at ${dev.label}`);
        const env = decodeEnvelope(m.envelope);
        assert.equal(Buffer.from(await dev.decrypt(A.address(), env.type === 3 ? 3 : 2, env.content)).toString(), text);
      }
    });

    test('the secondary\'s send reports needsSync; its sync message reaches the primary', T, async () => {
      const res = await call(bob2.chat, 'GET', `/v2/keys/${A.aci}/1`, 200);
      await B2.processBundle(bundleFromJson(res.json.identityKey, res.json.devices[0]), A.address());
      const sent = await sendRest(bob2.chat, A.aciServiceId, { timestamp: uniqueTs(), contents: [{ deviceId: 1, registrationId: A.aciKeys.registrationId, contents: await B2.encrypt('from the secondary', A.address()) }] });
      assert.equal(sent.status, 200);
      assert.deepEqual(JSON.parse(Buffer.from(sent.body).toString()), { needsSync: true });
      const own = (await call(bob2.chat, 'GET', `/v2/keys/${B.aci}/1`, 200)).json;
      await B2.processBundle(bundleFromJson(own.identityKey, own.devices[0]), B.address());
      const ts = uniqueTs();
      const sync = await sendRest(bob2.chat, B.aciServiceId, { timestamp: ts, contents: [{ deviceId: 1, registrationId: B.aciKeys.registrationId, contents: await B2.encrypt('sync copy', B.address()) }] });
      assert.equal(sync.status, 200);
      const m = await bob.listener.waitFor((l) => l.messages.find((x) => decodeEnvelope(x.envelope).clientTimestamp === ts), WAIT, 'sync message at the primary');
      const env = decodeEnvelope(m.envelope);
      assert.equal(env.sourceDevice, 2);
      assert.equal(Buffer.from(await B.decrypt(B2.address(), env.type === 3 ? 3 : 2, env.content)).toString(), 'sync copy');
    });

    test('device names: a linked device renames itself but not the primary', T, async () => {
      await call(bob2.chat, 'PUT', '/v1/accounts/name/?deviceId=2', 204, { json: { deviceName: b64(randomBytes(30)) } });
      await call(bob2.chat, 'PUT', '/v1/accounts/name/?deviceId=1', 403, { json: { deviceName: b64(randomBytes(30)) } });
      await call(bob.chat, 'PUT', '/v1/accounts/name/?deviceId=9', 404, { json: { deviceName: b64(randomBytes(30)) } });
    });

    test('removing the secondary closes its socket with 4401; sends that still list it get 409', T, async () => {
      await call(bob2.chat, 'DELETE', '/v1/devices/1', 403); // nobody removes the primary
      await call(bob.chat, 'DELETE', '/v1/devices/2', 204);
      await bob2.listener.waitFor((l) => l.interrupted.length > 0, WAIT, 'secondary socket closed');
      assert.equal(bob2.listener.interrupted[0]?.code, ErrorCode.ConnectionInvalidated, `closed with 4401: ${bob2.listener.interrupted[0]?.message}`);
      bob2 = null;
      const ts = uniqueTs();
      const stale = await sendRest(alice.chat, B.aciServiceId, { timestamp: ts, contents: [
        { deviceId: 1, registrationId: B.aciKeys.registrationId, contents: await A.encrypt('a', B.address()) },
        { deviceId: 2, registrationId: B2.aciKeys.registrationId, contents: await A.encrypt('b', B2.address()) },
      ] });
      assert.equal(stale.status, 409);
      assert.deepEqual(JSON.parse(Buffer.from(stale.body).toString()), { missingDevices: [], extraDevices: [2] });
    });

    test('device limit: 411 with {current, max} for the code once six devices are linked', T, async () => {
      const C = await registerWithKeys(net, 'carol');
      const carol = await connectDevice(net, C);
      try {
        for (let id = 2; id <= 6; id++) {
          const code = (await call(carol.chat, 'GET', '/v1/devices/provisioning/code', 200)).json;
          const d = secondaryOf(C, id);
          const r = await call(unauth, 'PUT', '/v1/devices/link', 200, { json: linkBody(d, code.verificationCode), auth: basicAuth('x', d.password) });
          assert.equal(r.json.deviceId, id, 'lowest free id');
        }
        const full = await call(carol.chat, 'GET', '/v1/devices/provisioning/code', 411);
        assert.deepEqual(full.json, { current: 6, max: 6 });
      } finally {
        await carol.chat.disconnect();
      }
    });

    test('linking without the spqr capability is refused with 409; bad signatures with 422', T, async () => {
      const D = await registerWithKeys(net, 'dave');
      const dave = await connectDevice(net, D);
      try {
        const code = (await call(dave.chat, 'GET', '/v1/devices/provisioning/code', 200)).json.verificationCode;
        const d2 = secondaryOf(D, 2);
        await call(unauth, 'PUT', '/v1/devices/link', 409, { json: linkBody(d2, code, { spqr: false }), auth: basicAuth('x', d2.password) });
        const stranger = new Device({ label: 'stranger' });
        await call(unauth, 'PUT', '/v1/devices/link', 422, { json: linkBody(stranger, code), auth: basicAuth('x', stranger.password) });
        const r = await call(unauth, 'PUT', '/v1/devices/link', 200, { json: linkBody(d2, code), auth: basicAuth('x', d2.password) });
        assert.equal(r.json.deviceId, 2);
        // The linked device authenticates with its own password.
        const c = await connectDevice(net, d2);
        await c.chat.disconnect();
      } finally {
        await dave.chat.disconnect();
      }
    });
  });
}
