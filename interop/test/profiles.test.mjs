// Profiles driven by libsignal's client side, over HTTP/1.1 and HTTP/2:
//   * Bob sets a versioned profile whose version and commitment come from libsignal's ProfileKey;
//     Alice reads it anonymously with the access key libsignal derives from that profile key,
//     checks the unidentifiedAccess checksum, and a wrong key is refused;
//   * Alice gets an expiring profile key credential for Bob's current version, libsignal receives
//     it with the server's public params and builds a presentation from it; a request made with
//     another profile key is a 400, a stale version gives a null credential;
//   * the batch identity check reports a stale identity key.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as zk from '@signalapp/libsignal-client/zkgroup.js';
import { startServer } from '../lib/server.mjs';
import { HTTP_VERSIONS, makeNet, connectAuth, connectUnauth } from '../lib/net.mjs';
import { Device } from '../lib/device.mjs';
import { registerRaw } from '../lib/register.mjs';
import { b64, call, request, unb64 } from '../lib/http.mjs';
import { settleNative } from '../lib/native.mjs';

const T = { timeout: 60000 };
const hex = (b) => Buffer.from(b).toString('hex');
const rand = (n) => new Uint8Array(crypto.randomBytes(n));

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await settleNative(); if (srv) await srv.stop(); });

function serverPublicParams() {
  return new zk.ServerPublicParams(new Uint8Array(fs.readFileSync(path.join(srv.dataDir, 'public', 'zk-server-public-params.bin'))));
}

/** The `PUT /v1/profile` body a client sends for `device`'s profile key. */
function profileBody(device, { avatar = false, sameAvatar = false } = {}) {
  const aci = device.aciServiceId;
  return {
    version: device.profileKey.getProfileKeyVersion(aci).toString(),
    commitment: b64(device.profileKey.getCommitment(aci).serialize()),
    name: b64(rand(81)),
    about: b64(rand(156)),
    aboutEmoji: b64(rand(60)),
    paymentAddress: '',
    phoneNumberSharing: b64(rand(29)),
    avatar,
    sameAvatar,
    badgeIds: [],
  };
}

for (const httpVersion of HTTP_VERSIONS) {
  describe(`profiles over HTTP/${httpVersion}`, { timeout: 180000 }, () => {
    let net; let A; let B; let alice; let bob; let unauth;
    before(async () => {
      net = makeNet(srv, httpVersion);
      A = (await registerRaw(net, new Device({ label: 'alice' }))).device;
      B = (await registerRaw(net, new Device({ label: 'bob' }))).device;
      alice = await connectAuth(net, A.account);
      bob = await connectAuth(net, B.account);
      unauth = await connectUnauth(net);
    });
    after(async () => {
      for (const c of [alice, bob, unauth]) await c?.chat.disconnect().catch(() => {});
    });

    test('versioned profile read with the access key libsignal derives', T, async () => {
      const body = profileBody(B);
      const put = await call(bob.chat, 'PUT', '/v1/profile', 200, { json: body });
      assert.equal(put.body.length, 0, 'no upload form without a new avatar');

      const accessKey = B.profileKey.deriveAccessKey();
      const got = (await call(unauth.chat, 'GET', `/v1/profile/${B.aci}/${body.version}`, 200, {
        headers: [['unidentified-access-key', b64(accessKey)]],
      })).json;
      for (const f of ['name', 'about', 'aboutEmoji', 'phoneNumberSharing']) assert.equal(got[f], body[f], f);
      assert.equal(got.paymentAddress, '', 'current version shows its (empty) payment address');
      assert.equal(got.avatar, null);
      assert.equal(got.uuid, B.aci);
      assert.deepEqual(unb64(got.identityKey), B.aciKeys.publicKey.serialize());
      // unidentifiedAccess = HMAC-SHA256(accessKey, 32 zero bytes): what clients check.
      const checksum = crypto.createHmac('sha256', Buffer.from(accessKey)).update(Buffer.alloc(32)).digest('base64');
      assert.equal(got.unidentifiedAccess, checksum);
      assert.equal(got.capabilities.spqr, true);

      // A wrong access key and no credentials at all are refused.
      const wrong = await request(unauth.chat, 'GET', `/v1/profile/${B.aci}/${body.version}`, {
        headers: [['unidentified-access-key', b64(A.profileKey.deriveAccessKey())]],
      });
      assert.equal(wrong.status, 401);
      const none = await request(unauth.chat, 'GET', `/v1/profile/${B.aci}/${body.version}`);
      assert.equal(none.status, 401);

      // The unversioned profile carries the same checksum; a version never set is all nulls.
      const base = (await call(alice.chat, 'GET', `/v1/profile/${B.aci}`, 200)).json;
      assert.equal(base.unidentifiedAccess, checksum);
      const other = A.profileKey.getProfileKeyVersion(B.aciServiceId).toString();
      const empty = (await call(alice.chat, 'GET', `/v1/profile/${B.aci}/${other}`, 200)).json;
      assert.equal(empty.name, null);
    });

    test('expiring profile key credential received by libsignal', T, async () => {
      const body = profileBody(B);
      await call(bob.chat, 'PUT', '/v1/profile', 200, { json: body });
      const ops = new zk.ClientZkProfileOperations(serverPublicParams());
      const context = ops.createProfileKeyCredentialRequestContext(B.aciServiceId, B.profileKey);
      const requestHex = hex(context.getRequest().serialize());
      const res = (await call(unauth.chat, 'GET',
        `/v1/profile/${B.aci}/${body.version}/${requestHex}?credentialType=expiringProfileKey`, 200, {
          headers: [['unidentified-access-key', b64(B.profileKey.deriveAccessKey())]],
        })).json;
      assert.equal(res.name, body.name);
      assert.equal(typeof res.credential, 'string');
      const response = new zk.ExpiringProfileKeyCredentialResponse(unb64(res.credential));
      const credential = ops.receiveExpiringProfileKeyCredential(context, response);
      const expires = credential.getExpirationTime().getTime() / 1000;
      const now = Date.now() / 1000;
      assert.equal(expires % 86400, 0, 'day-aligned');
      assert.ok(expires > now + 6 * 86400 && expires <= now + 7 * 86400, `expires in about 7 days: ${expires - now}s`);
      // It is usable: libsignal builds a group presentation from it.
      const group = zk.GroupSecretParams.generate();
      const presentation = ops.createExpiringProfileKeyCredentialPresentation(group, credential);
      assert.ok(presentation.serialize().length > 0);

      // A request for another profile key does not match the stored commitment: 400.
      const foreign = ops.createProfileKeyCredentialRequestContext(B.aciServiceId, A.profileKey);
      const bad = await request(alice.chat, 'GET',
        `/v1/profile/${B.aci}/${body.version}/${hex(foreign.getRequest().serialize())}?credentialType=expiringProfileKey`);
      assert.equal(bad.status, 400, bad.text);
      // Another credential type: 400.
      const type = await request(alice.chat, 'GET',
        `/v1/profile/${B.aci}/${body.version}/${requestHex}?credentialType=pni`);
      assert.equal(type.status, 400);
      // After Bob moves to a new profile key, the old version gets no credential.
      const oldVersion = body.version;
      B.profileKey = new zk.ProfileKey(rand(32));
      await call(bob.chat, 'PUT', '/v1/profile', 200, { json: profileBody(B) });
      const stale = (await call(alice.chat, 'GET',
        `/v1/profile/${B.aci}/${oldVersion}/${requestHex}?credentialType=expiringProfileKey`, 200)).json;
      assert.equal(stale.credential, null);
      assert.equal(stale.paymentAddress, null, 'payment address only for the current version');
    });

    test('batch identity check reports stale keys', T, async () => {
      const key = (d) => d.aciKeys.publicKey.serialize();
      const fp = (k) => b64(crypto.createHash('sha256').update(k).digest().subarray(0, 4));
      const res = (await call(unauth.chat, 'POST', '/v1/profile/identity_check/batch', 200, {
        json: { elements: [{ uuid: A.aci, fingerprint: fp(key(A)) }, { uuid: B.aci, fingerprint: fp(key(A)) }] },
      })).json;
      assert.deepEqual(res.elements, [{ uuid: B.aci, identityKey: b64(key(B)) }]);
    });
  });
}
