// Offline checks of our device library (no server): key formats, the JSON we upload, PQXDH
// session set-up from server-style JSON, 1:1 both ways, PNI identity, last-resort Kyber, and
// sealed sender v1 with locally made certificates. Runs in CI without a server.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import {
  IdentityKeyPair, ServerCertificate, SenderCertificate, PublicKey, KEMPublicKey,
  sealedSenderDecryptToUsmc,
} from '@signalapp/libsignal-client';
import {
  Device, ServiceIdKind, CiphertextMessageType, bundleFromJson, randomE164,
} from '../lib/device.mjs';
import { unb64, b64 } from '../lib/http.mjs';
import { settleNative } from '../lib/native.mjs';

const T = { timeout: 30000 };

/** A fake "registered" device with uploaded keys, and the server's view of them as JSON. */
function registeredDevice(label) {
  const d = new Device({ label });
  d.setRegistered({ aci: randomUUID(), pni: randomUUID() });
  const uploads = {
    [ServiceIdKind.Aci]: d.keysUploadJson(ServiceIdKind.Aci, { oneTimeEc: 2, oneTimeKem: 2, signed: true, lastResort: true }),
    [ServiceIdKind.Pni]: d.keysUploadJson(ServiceIdKind.Pni, { oneTimeEc: 1, oneTimeKem: 1, signed: true, lastResort: true }),
  };
  return { d, uploads };
}

/** What a server would answer for GET /v2/keys/{id}/1, from the uploaded JSON only. */
function serverResponse(d, upload, kind, { ec = 0, kem = 0, lastResort = false } = {}) {
  const k = d.keys[kind];
  return JSON.parse(JSON.stringify({
    identityKey: b64(k.publicKey.serialize()),
    devices: [{
      deviceId: d.deviceId,
      registrationId: k.registrationId,
      signedPreKey: upload.signedPreKey,
      preKey: ec === null ? null : upload.preKeys[ec],
      pqPreKey: lastResort ? upload.pqLastResortPreKey : upload.pqPreKeys[kem],
    }],
  }));
}

test('key formats and upload JSON are what the server contract expects', T, () => {
  const { d, uploads } = registeredDevice('alice');
  const up = uploads[ServiceIdKind.Aci];
  const ik = d.aciKeys.publicKey;
  assert.equal(up.preKeys.length, 2);
  for (const k of up.preKeys) { const pk = unb64(k.publicKey); assert.equal(pk.length, 33); assert.equal(pk[0], 0x05); }
  const spk = unb64(up.signedPreKey.publicKey);
  assert.equal(spk.length, 33);
  assert.equal(unb64(up.signedPreKey.signature).length, 64);
  assert.ok(ik.verify(spk, unb64(up.signedPreKey.signature)), 'signed prekey verifies against the identity key over the 33-byte serialized key');
  for (const k of [...up.pqPreKeys, up.pqLastResortPreKey]) {
    const kem = unb64(k.publicKey);
    assert.equal(kem.length, 1569); assert.equal(kem[0], 0x08);
    assert.ok(ik.verify(kem, unb64(k.signature)), 'Kyber key signature verifies over the 1569-byte serialized key');
  }
  // PNI keys are signed by the PNI identity, not the ACI one
  const pniUp = uploads[ServiceIdKind.Pni];
  assert.ok(d.pniKeys.publicKey.verify(unb64(pniUp.signedPreKey.publicKey), unb64(pniUp.signedPreKey.signature)));
  assert.ok(!ik.verify(unb64(pniUp.signedPreKey.publicKey), unb64(pniUp.signedPreKey.signature)));
  // key ids are distinct across kinds
  const ids = new Set([...up.preKeys.map((k) => k.keyId), ...up.pqPreKeys.map((k) => k.keyId), up.pqLastResortPreKey.keyId]);
  assert.equal(ids.size, 5);
  // registration JSON
  const reg = d.registrationJson('session-id');
  assert.equal(reg.sessionId, 'session-id');
  assert.equal(unb64(reg.aciIdentityKey).length, 33);
  assert.equal(reg.accountAttributes.capabilities.spqr, true);
  assert.equal(unb64(reg.accountAttributes.unidentifiedAccessKey).length, 16);
  assert.ok(reg.accountAttributes.registrationId >= 1 && reg.accountAttributes.registrationId <= 0x3fff);
  assert.deepEqual(d.registrationJson('s', { uakEncoding: 'array' }).accountAttributes.unidentifiedAccessKey, [...d.unidentifiedAccessKey]);
  assert.match(randomE164(), /^\+1555\d{7}$/);
});

test('PQXDH from server-style JSON, both directions', T, async () => {
  const { d: alice } = registeredDevice('alice');
  const { d: bob, uploads } = registeredDevice('bob');
  const json = serverResponse(bob, uploads[ServiceIdKind.Aci], ServiceIdKind.Aci);
  const bundle = bundleFromJson(json.identityKey, json.devices[0]);
  assert.equal(bundle.preKeyId(), uploads[ServiceIdKind.Aci].preKeys[0].keyId);
  await alice.processBundle(bundle, bob.address());
  const ct = await alice.encrypt('hello', bob.address());
  assert.equal(ct.type(), CiphertextMessageType.PreKey);
  assert.equal(Buffer.from(await bob.decrypt(alice.address(), ct.type(), ct.serialize())).toString(), 'hello');
  assert.equal(bob.aciKeys.preKeys.removed.length, 1, 'the one-time EC key was consumed');
  const r = await bob.encrypt('hi', alice.address());
  assert.equal(r.type(), CiphertextMessageType.Whisper);
  assert.equal(Buffer.from(await alice.decrypt(bob.address(), r.type(), r.serialize())).toString(), 'hi');
});

test('last-resort Kyber key without a one-time EC key; PNI identity', T, async () => {
  const { d: alice } = registeredDevice('alice');
  const { d: bob, uploads } = registeredDevice('bob');
  const json = serverResponse(bob, uploads[ServiceIdKind.Aci], ServiceIdKind.Aci, { ec: null, lastResort: true });
  const bundle = bundleFromJson(json.identityKey, json.devices[0]);
  assert.equal(bundle.preKeyId(), null);
  assert.equal(bundle.kyberPreKeyId(), bob.aciKeys.lastResort.id());
  await alice.processBundle(bundle, bob.address());
  const ct = await alice.encrypt('lr', bob.address());
  assert.equal(Buffer.from(await bob.decrypt(alice.address(), ct.type(), ct.serialize())).toString(), 'lr');
  assert.deepEqual(bob.aciKeys.kyberPreKeys.used.map((u) => u.id), [bob.aciKeys.lastResort.id()]);

  const pj = serverResponse(bob, uploads[ServiceIdKind.Pni], ServiceIdKind.Pni);
  const pb = bundleFromJson(pj.identityKey, pj.devices[0]);
  assert.equal(pb.registrationId(), bob.pniKeys.registrationId);
  const carol = registeredDevice('carol').d;
  await carol.processBundle(pb, bob.address(ServiceIdKind.Pni));
  const c2 = await carol.encrypt('to pni', bob.address(ServiceIdKind.Pni));
  assert.equal(Buffer.from(await bob.decrypt(carol.address(), c2.type(), c2.serialize(), ServiceIdKind.Pni)).toString(), 'to pni');
  // the ACI stores could not have decrypted it
  const c3 = await registeredDevice('dave').d;
  await c3.processBundle(bundleFromJson(pj.identityKey, { ...pj.devices[0], preKey: null }), bob.address(ServiceIdKind.Pni));
  const c4 = await c3.encrypt('x', bob.address(ServiceIdKind.Pni));
  await assert.rejects(bob.decrypt(c3.address(), c4.type(), c4.serialize(), ServiceIdKind.Aci));
});

test('bundle JSON with a tampered signature is refused by processPreKeyBundle', T, async () => {
  const { d: alice } = registeredDevice('alice');
  const { d: bob, uploads } = registeredDevice('bob');
  const json = serverResponse(bob, uploads[ServiceIdKind.Aci], ServiceIdKind.Aci);
  const dev = json.devices[0];
  dev.signedPreKey.signature = b64(IdentityKeyPair.generate().privateKey.sign(unb64(dev.signedPreKey.publicKey)));
  await assert.rejects(alice.processBundle(bundleFromJson(json.identityKey, dev), bob.address()));
  // sanity: the pieces deserialize
  assert.ok(PublicKey.deserialize(unb64(dev.signedPreKey.publicKey)));
  assert.ok(KEMPublicKey.deserialize(unb64(dev.pqPreKey.publicKey)));
});

test('sealed sender v1 with locally made certificates', T, async () => {
  const { d: alice } = registeredDevice('alice');
  const { d: bob, uploads } = registeredDevice('bob');
  const json = serverResponse(bob, uploads[ServiceIdKind.Aci], ServiceIdKind.Aci);
  await alice.processBundle(bundleFromJson(json.identityKey, json.devices[0]), bob.address());

  const trustRoot = IdentityKeyPair.generate();
  const serverKey = IdentityKeyPair.generate();
  const serverCert = ServerCertificate.new(1, serverKey.publicKey, trustRoot.privateKey);
  const expires = Date.now() + 24 * 3600 * 1000;
  const cert = SenderCertificate.new(alice.aci, alice.e164, alice.deviceId, alice.aciKeys.publicKey, expires, serverCert, serverKey.privateKey);
  const parsed = SenderCertificate.deserialize(cert.serialize());
  assert.ok(parsed.validate(trustRoot.publicKey, Date.now()));
  assert.ok(!parsed.validate(IdentityKeyPair.generate().publicKey, Date.now()), 'wrong trust root');
  assert.ok(!parsed.validate(trustRoot.publicKey, expires + 1), 'expired');

  const sealed = await alice.sealedEncrypt('sealed hello', bob.address(), parsed);
  assert.equal(sealed[0], 0x11, 'sealed sender v1');
  const res = await bob.sealedDecrypt(sealed, trustRoot.publicKey);
  assert.equal(Buffer.from(res.message()).toString(), 'sealed hello');
  assert.equal(res.senderUuid(), alice.aci);
  assert.equal(res.deviceId(), alice.deviceId);
  assert.equal(res.senderE164(), alice.e164);

  const again = await alice.sealedEncrypt('second', bob.address(), parsed);
  const usmc = await sealedSenderDecryptToUsmc(again, bob.aciKeys.identities);
  assert.ok(usmc.senderCertificate().validate(trustRoot.publicKey, Date.now()));
  assert.equal(Buffer.from(await bob.decrypt(alice.address(), usmc.msgType(), usmc.contents())).toString(), 'second');

  const third = await alice.sealedEncrypt('x', bob.address(), parsed);
  await assert.rejects(bob.sealedDecrypt(third, IdentityKeyPair.generate().publicKey), 'wrong trust root is rejected');
  await settleNative(1);
});
