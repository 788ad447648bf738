// Accounts and prekeys, driven by Signal's own libsignal client over libsignal's own network
// stack, over HTTP/1.1 and HTTP/2.
//
// One Heliograph server for the whole file; each HTTP version registers its own Alice and Bob
// (random +1555 numbers), so the two halves never share state.
import assert from 'node:assert/strict';
import { createHash, randomUUID, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, IdentityKeyPair, PrivateKey } from '@signalapp/libsignal-client';
import { startServer, targetKind } from '../lib/server.mjs';
import { HTTP_VERSIONS, makeNet, connectAuth, connectUnauth } from '../lib/net.mjs';
import {
  Device, ServiceIdKind, Aci, Pni, CiphertextMessageType,
  bundleFromJson, ecPreKeyTyped, kemPreKeyTyped, signedPreKeyTyped,
} from '../lib/device.mjs';
import { registerTyped, registerRaw, verifiedSession } from '../lib/register.mjs';
import { b64, basicAuth, call, request, expectStatus, header } from '../lib/http.mjs';
import { settleNative } from '../lib/native.mjs';

const MOCK = targetKind() === 'mock'; // harness validation against Signal's mock server only
const T = { timeout: 30000 };
const onlyHeliograph = (why) => (MOCK ? `not implemented by the mock server: ${why}` : false);
const PUT_KEYS_OK = MOCK ? 200 : 204; // the contract says 204; the mock answers 200

let srv;
before(async () => { srv = await startServer(); });
after(async () => {
  await settleNative();
  if (srv) {
    const res = await srv.stop();
    assert.ok(res.code === 0 || res.signal === 'SIGTERM' || res.code === null, `server exit after SIGTERM: ${JSON.stringify(res)}`);
  }
});

/** Alice processes `bundle` for `to`'s identity `kind`, encrypts; `to` decrypts. */
async function roundTrip(from, to, bundle, text, kind = ServiceIdKind.Aci) {
  const remote = to.address(kind);
  await from.processBundle(bundle, remote);
  const ct = await from.encrypt(text, remote);
  assert.equal(ct.type(), CiphertextMessageType.PreKey, 'first message of a new session is a PreKey message');
  const pt = await to.decrypt(from.address(), ct.type(), ct.serialize(), kind);
  assert.equal(Buffer.from(pt).toString(), text);
  return ct;
}

function is403AtUpgrade(e) {
  assert.equal(e.code, ErrorCode.DeviceDelinked, `expected 403 at the websocket upgrade (libsignal: DeviceDelinked), got code ${e.code}: ${e.message}`);
  return true;
}

function keysCheckDigest(ik) {
  const id8 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };
  return createHash('sha256').update(Buffer.concat([
    Buffer.from(ik.publicKey.serialize()),
    id8(ik.signedPreKey.id()), Buffer.from(ik.signedPreKey.publicKey().serialize()),
    id8(ik.lastResort.id()), Buffer.from(ik.lastResort.publicKey().serialize()),
  ])).digest();
}

const versions = MOCK ? HTTP_VERSIONS.filter((v) => v === 2) : HTTP_VERSIONS; // the mock has no HTTP/1.1 upgrade

for (const httpVersion of versions) {
  describe(`accounts and keys over HTTP/${httpVersion}`, { timeout: 180000 }, () => {
    let net; let unauth; let aliceChat; let bobChat;
    const alice = new Device({ label: 'alice' });
    const bob = new Device({ label: 'bob' });
    const bobAciEc = []; const bobAciKem = [];
    // Later tests build on earlier ones; fail them with a clear cause instead of a confusing one.
    const need = ({ accounts = true, chats = true, keys = false } = {}) => {
      if (accounts) assert.ok(alice.aci && bob.aci, 'prerequisite failed: Alice and Bob are not both registered (see the registration tests)');
      if (chats) assert.ok(aliceChat && bobChat, 'prerequisite failed: no authenticated sockets (see the whoami test)');
      if (keys) assert.ok(bobAciEc.length, 'prerequisite failed: Bob\'s keys were not uploaded');
    };

    before(async () => {
      net = makeNet(srv, httpVersion);
      ({ chat: unauth } = await connectUnauth(net));
    });
    after(async () => {
      for (const c of [unauth, aliceChat, bobChat]) await c?.disconnect().catch(() => {});
      net = null;
    });

    test('register Alice with libsignal\'s typed registration API', T, async () => {
      const { response } = await registerTyped(net, alice);
      assert.match(alice.aci, /^[0-9a-f-]{36}$/);
      assert.ok(response.pni, 'a phone-number account has a PNI');
      assert.equal(response.number, alice.e164);
      assert.equal(response.reregistration, false);
      assert.notEqual(response.aci.getRawUuid(), response.pni.getRawUuid());
    });

    test('register Bob with raw REST calls on an unauthenticated socket', T, async () => {
      const { response } = await registerRaw(unauth, bob, { uakEncoding: MOCK ? 'array' : 'base64' });
      assert.match(response.uuid, /^[0-9a-f-]{36}$/);
      assert.match(response.pni, /^[0-9a-f-]{36}$/, 'pni is a plain uuid (no PNI: prefix) in the registration response');
      assert.equal(response.number, bob.e164);
      assert.equal(typeof response.storageCapable, 'boolean');
      assert.equal(response.reregistration, false);
      assert.notEqual(response.uuid, alice.aci);
    });

    test('authenticated sockets and whoami', T, async () => {
      need({ chats: false });
      ({ chat: aliceChat } = await connectAuth(net, alice.account));
      ({ chat: bobChat } = await connectAuth(net, bob.account));
      for (const [d, chat] of [[alice, aliceChat], [bob, bobChat]]) {
        const res = await call(chat, 'GET', '/v1/accounts/whoami', 200);
        assert.equal(res.json.uuid, d.aci);
        assert.equal(res.json.pni, d.pni);
        assert.equal(res.json.number, d.e164);
        if (!MOCK) assert.ok(header(res, 'x-signal-timestamp'), 'responses carry X-Signal-Timestamp');
      }
    });

    test('HEAD /v1/accounts/account/{serviceId}: 200 for existing ACI and PNI, 404 otherwise', { ...T, skip: onlyHeliograph('HEAD account') }, async () => {
      need({ chats: false });
      await call(unauth, 'HEAD', `/v1/accounts/account/${bob.aci}`, 200);
      await call(unauth, 'HEAD', `/v1/accounts/account/PNI:${bob.pni}`, 200);
      await call(unauth, 'HEAD', `/v1/accounts/account/${randomUUID()}`, 404);
    });

    // typed accountExists is REST (HEAD) over HTTP/1.1 but gRPC AccountsAnonymous/CheckAccountExistence
    // over HTTP/2 (the mock has neither).
    test(`typed accountExists (${httpVersion === 2 ? 'gRPC CheckAccountExistence' : 'REST HEAD'})`, { ...T, skip: onlyHeliograph('HEAD account / CheckAccountExistence') }, async () => {
      need({ chats: false });
      assert.equal(await unauth.accountExists({ account: bob.aciServiceId }), true, 'typed accountExists(bob)');
      assert.equal(await unauth.accountExists({ account: Aci.fromUuid(randomUUID()) }), false, 'typed accountExists(unknown)');
    });

    test('GET /v2/config', { ...T, skip: onlyHeliograph('v2 config shape') }, async () => {
      need();
      const res = await call(aliceChat, 'GET', '/v2/config', 200);
      assert.equal(typeof res.json?.config, 'object', `config object: ${res.text}`);
    });

    test('Bob uploads one-time keys with PUT /v2/keys (ACI and PNI), counts match', T, async () => {
      need();
      const aciBody = bob.keysUploadJson(ServiceIdKind.Aci, { oneTimeEc: 3, oneTimeKem: 2 });
      bobAciEc.push(...aciBody.preKeys.map((k) => k.keyId));
      bobAciKem.push(...aciBody.pqPreKeys.map((k) => k.keyId));
      await call(bobChat, 'PUT', '/v2/keys', PUT_KEYS_OK, { json: aciBody });
      await call(bobChat, 'PUT', '/v2/keys?identity=pni', PUT_KEYS_OK, { json: bob.keysUploadJson(ServiceIdKind.Pni, { oneTimeEc: 2, oneTimeKem: 1 }) });
      assert.deepEqual((await call(bobChat, 'GET', '/v2/keys', 200)).json, { count: 3, pqCount: 2 });
      assert.deepEqual((await call(bobChat, 'GET', '/v2/keys?identity=aci', 200)).json, { count: 3, pqCount: 2 });
      assert.deepEqual((await call(bobChat, 'GET', '/v2/keys?identity=pni', 200)).json, { count: 2, pqCount: 1 });
    });

    if (httpVersion === 2) {
      test('Alice uploads keys with the typed gRPC key APIs; getPreKeyCount agrees with REST', { ...T, skip: onlyHeliograph('gRPC Keys service') }, async () => {
        need();
        const a = alice.aciKeys; const p = alice.pniKeys;
        await aliceChat.setSignedEcPreKey({ identity: ServiceIdKind.Aci, preKey: signedPreKeyTyped(a.newSignedPreKey()) });
        await aliceChat.setLastResortKemPreKey({ identity: ServiceIdKind.Aci, preKey: kemPreKeyTyped(a.newLastResort()) });
        await aliceChat.setOneTimeEcPreKeys({ identity: ServiceIdKind.Aci, preKeys: a.newOneTimeEc(4).map(ecPreKeyTyped) });
        await aliceChat.setOneTimeKemPreKeys({ identity: ServiceIdKind.Aci, preKeys: a.newOneTimeKem(3).map(kemPreKeyTyped) });
        await aliceChat.setSignedEcPreKey({ identity: ServiceIdKind.Pni, preKey: signedPreKeyTyped(p.newSignedPreKey()) });
        await aliceChat.setLastResortKemPreKey({ identity: ServiceIdKind.Pni, preKey: kemPreKeyTyped(p.newLastResort()) });
        await aliceChat.setOneTimeEcPreKeys({ identity: ServiceIdKind.Pni, preKeys: p.newOneTimeEc(2).map(ecPreKeyTyped) });
        await aliceChat.setOneTimeKemPreKeys({ identity: ServiceIdKind.Pni, preKeys: p.newOneTimeKem(1).map(kemPreKeyTyped) });
        assert.deepEqual(await aliceChat.getPreKeyCount(), { aciEcPreKeyCount: 4, aciKemPreKeyCount: 3, pniEcPreKeyCount: 2, pniKemPreKeyCount: 1 });
        assert.deepEqual((await call(aliceChat, 'GET', '/v2/keys', 200)).json, { count: 4, pqCount: 3 });
        // a second batch replaces, not appends
        await aliceChat.setOneTimeEcPreKeys({ identity: ServiceIdKind.Aci, preKeys: a.newOneTimeEc(2).map(ecPreKeyTyped) });
        assert.equal((await aliceChat.getPreKeyCount()).aciEcPreKeyCount, 2);
      });

      test('typed gRPC upload with a bad signature is rejected', { ...T, skip: onlyHeliograph('gRPC Keys service') }, async () => {
        need();
        const pub = PrivateKey.generate().getPublicKey();
        const wrongSig = IdentityKeyPair.generate().privateKey.sign(pub.serialize());
        await assert.rejects(aliceChat.setSignedEcPreKey({ identity: ServiceIdKind.Aci, preKey: { keyId: 999, publicKey: pub, signature: wrongSig } }),
          (e) => { assert.ok(e instanceof Error); return true; });
        // the stored signed prekey is unchanged: Bob can still build a session with Alice
      });
    } else {
      test('Alice uploads keys with PUT /v2/keys (HTTP/1.1: the typed key APIs are gRPC-only)', T, async () => {
        need();
        await call(aliceChat, 'PUT', '/v2/keys', PUT_KEYS_OK, { json: alice.keysUploadJson(ServiceIdKind.Aci, { oneTimeEc: 2, oneTimeKem: 1, signed: true, lastResort: true }) });
        assert.deepEqual((await call(aliceChat, 'GET', '/v2/keys', 200)).json, { count: 2, pqCount: 1 });
        // a non-empty list replaces the stored keys of that kind; omitted fields leave keys alone
        await call(aliceChat, 'PUT', '/v2/keys', PUT_KEYS_OK, { json: alice.keysUploadJson(ServiceIdKind.Aci, { oneTimeEc: 3 }) });
        assert.deepEqual((await call(aliceChat, 'GET', '/v2/keys', 200)).json, { count: 3, pqCount: 1 });
        await call(aliceChat, 'PUT', '/v2/keys?identity=pni', PUT_KEYS_OK, { json: alice.keysUploadJson(ServiceIdKind.Pni, { oneTimeEc: 1, signed: true, lastResort: true }) });
        assert.deepEqual((await call(aliceChat, 'GET', '/v2/keys?identity=pni', 200)).json, { count: 1, pqCount: 0 });
      });
    }

    const seenEc = new Set(); const seenKem = new Set();
    test('Alice fetches Bob\'s bundle with typed getPreKeys (access key), PQXDH round trip', T, async () => {
      need({ keys: true });
      const res = await unauth.getPreKeys({ target: bob.aciServiceId, device: { deviceId: 1 }, auth: { accessKey: bob.unidentifiedAccessKey } });
      assert.ok(res.identityKey.equals(bob.aciKeys.publicKey), 'identity key is Bob\'s ACI identity key');
      assert.equal(res.preKeyBundles.length, 1);
      const bundle = res.preKeyBundles[0];
      assert.equal(bundle.deviceId(), 1);
      assert.equal(bundle.registrationId(), bob.aciKeys.registrationId);
      assert.equal(bundle.signedPreKeyId(), bob.aciKeys.signedPreKey.id());
      assert.ok(bobAciEc.includes(bundle.preKeyId()), `one-time EC key ${bundle.preKeyId()} is one Bob uploaded`);
      assert.ok(bobAciKem.includes(bundle.kyberPreKeyId()), `one-time Kyber key ${bundle.kyberPreKeyId()} is one Bob uploaded (not the last resort)`);
      seenEc.add(bundle.preKeyId()); seenKem.add(bundle.kyberPreKeyId());
      await roundTrip(alice, bob, bundle, `hello bob over HTTP/${httpVersion}`);
      // and back: Bob's reply is a normal (Whisper) message
      const reply = await bob.encrypt('hi alice', alice.address());
      assert.equal(reply.type(), CiphertextMessageType.Whisper);
      assert.equal(Buffer.from(await alice.decrypt(bob.address(), reply.type(), reply.serialize())).toString(), 'hi alice');
    });

    test('one-time key counts decrease after a fetch', T, async () => {
      need({ keys: true });
      assert.deepEqual((await call(bobChat, 'GET', '/v2/keys', 200)).json, { count: 2, pqCount: 1 });
      assert.deepEqual((await call(bobChat, 'GET', '/v2/keys?identity=pni', 200)).json, { count: 2, pqCount: 1 }, 'PNI keys untouched');
    });

    test('account-authenticated fetch (GET /v2/keys/{aci}/1 on Alice\'s socket), round trip', T, async () => {
      need({ keys: true });
      const res = await call(aliceChat, 'GET', `/v2/keys/${bob.aci}/1`, 200);
      const { identityKey, devices } = res.json;
      assert.equal(identityKey, b64(bob.aciKeys.publicKey.serialize()));
      assert.equal(devices.length, 1);
      const dev = devices[0];
      assert.equal(dev.deviceId, 1);
      assert.equal(dev.registrationId, bob.aciKeys.registrationId);
      assert.ok(dev.preKey && !seenEc.has(dev.preKey.keyId), 'a fresh one-time EC key (the previous one was consumed)');
      assert.ok(!seenKem.has(dev.pqPreKey.keyId) && bobAciKem.includes(dev.pqPreKey.keyId), 'a fresh one-time Kyber key');
      seenEc.add(dev.preKey.keyId); seenKem.add(dev.pqPreKey.keyId);
      await roundTrip(alice, bob, bundleFromJson(identityKey, dev), 'hello again');
      assert.deepEqual((await call(bobChat, 'GET', '/v2/keys', 200)).json, { count: 1, pqCount: 0 });
    });

    test('last-resort Kyber key once one-time Kyber keys run out; no EC key once those run out', T, async () => {
      need({ keys: true });
      // Kyber one-time keys are exhausted now: the last-resort key comes back, still signed.
      const r1 = await unauth.getPreKeys({ target: bob.aciServiceId, device: 'all', auth: { accessKey: bob.unidentifiedAccessKey } });
      assert.equal(r1.preKeyBundles.length, 1);
      const b1 = r1.preKeyBundles[0];
      assert.equal(b1.kyberPreKeyId(), bob.aciKeys.lastResort.id(), 'the last-resort Kyber key');
      assert.ok(!seenEc.has(b1.preKeyId()) && bobAciEc.includes(b1.preKeyId()), 'the last one-time EC key');
      await roundTrip(alice, bob, b1, 'last resort, with EC one-time key');
      assert.deepEqual((await call(bobChat, 'GET', '/v2/keys', 200)).json, { count: 0, pqCount: 0 });
      // Nothing one-time left at all.
      const r2 = await unauth.getPreKeys({ target: bob.aciServiceId, device: { deviceId: 1 }, auth: { accessKey: bob.unidentifiedAccessKey } });
      const b2 = r2.preKeyBundles[0];
      assert.equal(b2.preKeyId(), null, 'no one-time EC prekey');
      assert.equal(b2.kyberPreKeyId(), bob.aciKeys.lastResort.id());
      await roundTrip(alice, bob, b2, 'last resort, signed prekey only');
      const used = bob.aciKeys.kyberPreKeys.used.filter((u) => u.id === bob.aciKeys.lastResort.id());
      assert.equal(used.length, 2, 'Bob\'s store saw the last-resort key used twice');
    });

    test('fetch of Bob\'s PNI keys (account auth) gives the PNI identity and registration id; round trip to the PNI', T, async () => {
      need({ keys: true });
      const res = await call(aliceChat, 'GET', `/v2/keys/PNI:${bob.pni}/*`, 200);
      assert.equal(res.json.identityKey, b64(bob.pniKeys.publicKey.serialize()));
      const dev = res.json.devices[0];
      assert.equal(dev.registrationId, bob.pniKeys.registrationId, 'PNI registration id for a PNI target');
      assert.equal(dev.signedPreKey.keyId, bob.pniKeys.signedPreKey.id());
      await roundTrip(alice, bob, bundleFromJson(res.json.identityKey, dev), 'hello bob\'s pni', ServiceIdKind.Pni);
      assert.deepEqual((await call(bobChat, 'GET', '/v2/keys?identity=pni', 200)).json, { count: 1, pqCount: 0 });
    });

    test('Alice\'s own keys, uploaded above, work for Bob (typed fetch, access key)', T, async () => {
      need();
      const res = await unauth.getPreKeys({ target: alice.aciServiceId, device: { deviceId: 1 }, auth: { accessKey: alice.unidentifiedAccessKey } });
      const bundle = res.preKeyBundles[0];
      assert.equal(bundle.signedPreKeyId(), alice.aciKeys.signedPreKey.id(), 'the signed prekey Alice set last');
      await roundTrip(bob, alice, bundle, 'hello alice');
    });

    test('Bob fetches Alice\'s PNI keys (set via ' + (httpVersion === 2 ? 'gRPC' : 'REST') + '), round trip to her PNI', { ...T, skip: httpVersion === 2 && onlyHeliograph('gRPC Keys service') }, async () => {
      need();
      const res = await call(bobChat, 'GET', `/v2/keys/PNI:${alice.pni}/1`, 200);
      assert.equal(res.json.identityKey, b64(alice.pniKeys.publicKey.serialize()));
      const dev = res.json.devices[0];
      assert.equal(dev.signedPreKey.keyId, alice.pniKeys.signedPreKey.id(), 'the PNI signed prekey set last');
      assert.equal(dev.registrationId, alice.pniKeys.registrationId);
      await roundTrip(bob, alice, bundleFromJson(res.json.identityKey, dev), 'hello alice\'s pni', ServiceIdKind.Pni);
    });

    test('POST /v2/keys/check: 200 for a matching digest, 409 otherwise', { ...T, skip: onlyHeliograph('keys check') }, async () => {
      need();
      await call(bobChat, 'POST', '/v2/keys/check', 200, { json: { identityType: 'ACI', digest: b64(keysCheckDigest(bob.aciKeys)) } });
      await call(bobChat, 'POST', '/v2/keys/check', 200, { json: { identityType: 'pni', digest: b64(keysCheckDigest(bob.pniKeys)) } });
      await call(bobChat, 'POST', '/v2/keys/check', 409, { json: { identityType: 'ACI', digest: b64(randomBytes(32)) } });
      await call(bobChat, 'POST', '/v2/keys/check', 409, { json: { identityType: 'PNI', digest: b64(keysCheckDigest(bob.aciKeys)) } });
      // Alice's keys were replaced after registration (gRPC over HTTP/2, REST over HTTP/1.1)
      await call(aliceChat, 'POST', '/v2/keys/check', 200, { json: { identityType: 'ACI', digest: b64(keysCheckDigest(alice.aciKeys)) } });
      await call(aliceChat, 'POST', '/v2/keys/check', 200, { json: { identityType: 'PNI', digest: b64(keysCheckDigest(alice.pniKeys)) } });
    });

    // ------------------------------------------------------------ negative cases
    test('wrong password: authenticated connect fails with 403 at the upgrade', { ...T, skip: onlyHeliograph('403 on bad credentials') }, async () => {
      need({ chats: false });
      // libsignal maps a 403 upgrade response to ErrorCode.DeviceDelinked ("device was
      // deregistered"); a 401 would surface as a generic "HTTP error: 401 Unauthorized".
      await assert.rejects(connectAuth(net, { ...alice.account, password: 'wrong-password' }), is403AtUpgrade);
      await assert.rejects(connectAuth(net, { aci: randomUUID(), deviceId: 1, password: 'x' }), is403AtUpgrade);
      await assert.rejects(connectAuth(net, { ...alice.account, deviceId: 2 }), is403AtUpgrade, 'a device the account does not have');
    });

    test('REST on the unauthenticated socket with a wrong authorization header: 401', { ...T, skip: onlyHeliograph('401 semantics') }, async () => {
      need();
      await call(unauth, 'GET', '/v1/accounts/whoami', 401, { auth: basicAuth(`${alice.aci}.1`, 'wrong-password') });
      await call(unauth, 'GET', '/v1/accounts/whoami', 401);
      await call(unauth, 'PUT', '/v2/keys', 401, { json: {}, auth: basicAuth(`${alice.aci}.1`, 'wrong-password') });
    });

    test('bad prekey signatures are rejected with 422 (PUT /v2/keys)', { ...T, skip: onlyHeliograph('422 on bad signature') }, async () => {
      need();
      const forged = IdentityKeyPair.generate();
      const body = bob.keysUploadJson(ServiceIdKind.Aci, { signed: true });
      body.signedPreKey.signature = b64(forged.privateKey.sign(Buffer.from(body.signedPreKey.publicKey, 'base64')));
      await call(bobChat, 'PUT', '/v2/keys', 422, { json: body });
      const kem = bob.keysUploadJson(ServiceIdKind.Aci, { oneTimeKem: 1 });
      kem.pqPreKeys[0].signature = b64(randomBytes(64));
      await call(bobChat, 'PUT', '/v2/keys', 422, { json: kem });
      const lr = bob.keysUploadJson(ServiceIdKind.Pni, { lastResort: true });
      // signed by the ACI identity, uploaded for the PNI: wrong identity
      const lrPub = Buffer.from(lr.pqLastResortPreKey.publicKey, 'base64');
      lr.pqLastResortPreKey.signature = b64(bob.aciKeys.sign(lrPub));
      await call(bobChat, 'PUT', '/v2/keys?identity=pni', 422, { json: lr });
    });

    test('bad prekey signature at registration: 422', { ...T, skip: onlyHeliograph('422 on bad signature') }, async () => {
      const carol = new Device({ label: 'carol' });
      const sessionId = await verifiedSession(unauth, carol.e164);
      const body = carol.registrationJson(sessionId);
      body.aciSignedPreKey.signature = b64(IdentityKeyPair.generate().privateKey.sign(Buffer.from(body.aciSignedPreKey.publicKey, 'base64')));
      await call(unauth, 'POST', '/v1/registration', 422, { json: body, auth: basicAuth(carol.e164, carol.password) });
    });

    test('malformed JSON: 400 for unparseable, 422 for wrong types', { ...T, skip: onlyHeliograph('status codes') }, async () => {
      need();
      await call(bobChat, 'PUT', '/v2/keys', 400, { body: '{"preKeys": [', headers: [['content-type', 'application/json']] });
      await call(bobChat, 'PUT', '/v2/keys', 422, { json: { preKeys: 'not-a-list' } });
      await call(unauth, 'POST', '/v1/verification/session', [400, 422], { body: 'not json', headers: [['content-type', 'application/json']] });
      await call(bobChat, 'PUT', '/v2/keys', 422, { json: { signedPreKey: { keyId: 1, publicKey: 'AAAA', signature: 'AAAA' } } });
    });

    test('unknown account or device: 404 with account auth, 401 with an access key', { ...T, skip: onlyHeliograph('OptionalAccess semantics') }, async () => {
      need({ keys: true });
      await call(aliceChat, 'GET', `/v2/keys/${randomUUID()}/1`, 404);
      await call(aliceChat, 'GET', `/v2/keys/${randomUUID()}/*`, 404);
      await call(aliceChat, 'GET', `/v2/keys/${bob.aci}/5`, 404);
      // typed: unknown target with an access key is "unauthorized", not "not found" (no account probing)
      await assert.rejects(
        unauth.getPreKeys({ target: Aci.fromUuid(randomUUID()), device: 'all', auth: { accessKey: new Uint8Array(16) } }),
        (e) => { assert.equal(e.code, ErrorCode.RequestUnauthorized, `code ${e.code}: ${e.message}`); return true; });
      // wrong access key
      await assert.rejects(
        unauth.getPreKeys({ target: bob.aciServiceId, device: 'all', auth: { accessKey: new Uint8Array(randomBytes(16)) } }),
        (e) => { assert.equal(e.code, ErrorCode.RequestUnauthorized, `code ${e.code}: ${e.message}`); return true; });
      // access key for a PNI target is refused
      await assert.rejects(
        unauth.getPreKeys({ target: Pni.fromUuid(bob.pni), device: 'all', auth: { accessKey: bob.unidentifiedAccessKey } }),
        (e) => { assert.equal(e.code, ErrorCode.RequestUnauthorized, `code ${e.code}: ${e.message}`); return true; });
      // 'unrestricted' (sixteen zero bytes) only works for accounts that allow unrestricted access
      await assert.rejects(
        unauth.getPreKeys({ target: bob.aciServiceId, device: 'all', auth: 'unrestricted' }),
        (e) => { assert.equal(e.code, ErrorCode.RequestUnauthorized, `code ${e.code}: ${e.message}`); return true; });
      // no access header at all on the unauthenticated socket
      await call(unauth, 'GET', `/v2/keys/${bob.aci}/1`, 401);
      // a known account but an unknown device, with the right access key
      await assert.rejects(
        unauth.getPreKeys({ target: bob.aciServiceId, device: { deviceId: 9 }, auth: { accessKey: bob.unidentifiedAccessKey } }),
        (e) => { assert.equal(e.code, ErrorCode.ServiceIdNotFound, `code ${e.code}: ${e.message}`); return true; });
    });

    test('DELETE /v1/accounts/me: the account is gone', { ...T, skip: onlyHeliograph('account deletion') }, async () => {
      need();
      const { device: dave } = await registerRaw(unauth, new Device({ label: 'dave' }), { uakEncoding: 'array' });
      const { chat } = await connectAuth(net, dave.account);
      await call(chat, 'DELETE', '/v1/accounts/me', 204);
      await chat.disconnect().catch(() => {});
      await call(unauth, 'HEAD', `/v1/accounts/account/${dave.aci}`, 404);
      await assert.rejects(connectAuth(net, dave.account), is403AtUpgrade);
      await call(aliceChat, 'GET', `/v2/keys/${dave.aci}/*`, 404);
    });
  });
}
