// Profiles driven by libsignal's client side, over HTTP/1.1 and HTTP/2:
//   * Bob sets a versioned profile whose version and commitment come from libsignal's ProfileKey;
//     Alice reads it anonymously with the access key libsignal derives from that profile key,
//     checks the unidentifiedAccess checksum, and a wrong key is refused;
//   * Alice gets an expiring profile key credential for Bob's current version, libsignal receives
//     it with the server's public params and builds a presentation from it; a request made with
//     another profile key is a 400, a stale version gives a null credential;
//   * Bob asks for a new avatar, uploads it to the profile CDN with the S3 POST-policy form the
//     server returned (multipart, fields as Signal Desktop names them), Alice downloads it from
//     `<cdn0>/<avatar>`; `sameAvatar` keeps it, clearing deletes the object; a form whose
//     signature was tampered with is refused;
//   * the batch identity check reports a stale identity key.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as zk from '@signalapp/libsignal-client/zkgroup.js';
import { startServer } from '../lib/server.mjs';
import { HTTP_VERSIONS, makeNet, connectAuth, connectUnauth } from '../lib/net.mjs';
import { Device } from '../lib/device.mjs';
import { registerRaw } from '../lib/register.mjs';
import { b64, call, request, unb64 } from '../lib/http.mjs';
import { settleNative } from '../lib/native.mjs';
import { s3Env } from '../lib/s3.mjs';

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

/** One HTTPS request to the server's CDN with Node's client and the test CA. */
function cdnRequest(server, method, urlPath, { headers = {}, body } = {}) {
  const ca = fs.readFileSync(path.join(server.dataDir, 'public', 'tls-ca.pem'));
  return new Promise((resolve, reject) => {
    const hdrs = { ...headers };
    if (body !== undefined) hdrs['content-length'] = String(body.length);
    const req = https.request(`https://localhost:${server.port}${urlPath}`, { method, headers: hdrs, ca, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The multipart POST a client makes to the profile CDN with the avatar form. */
function uploadAvatar(server, form, bytes) {
  const boundary = `----heliograph${crypto.randomBytes(8).toString('hex')}`;
  const fields = {
    key: form.key,
    'Content-Type': 'application/octet-stream',
    acl: form.acl,
    'X-Amz-Algorithm': form.algorithm,
    'X-Amz-Credential': form.credential,
    'X-Amz-Date': form.date,
    policy: form.policy,
    'X-Amz-Signature': form.signature,
  };
  const parts = Object.entries(fields).map(([k, v]) => Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="avatar"\r\nContent-Type: application/octet-stream\r\n\r\n`));
  parts.push(Buffer.from(bytes));
  parts.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return cdnRequest(server, 'POST', '/cdn0/', {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: Buffer.concat(parts),
  });
}

/** Bob's avatar through the profile and the CDN; Alice reads it. */
async function avatarFlow(server, { B, alice, bob, unauth }) {
  const body = profileBody(B, { avatar: true, sameAvatar: false });
  const form = (await call(bob.chat, 'PUT', '/v1/profile', 200, { json: body })).json;
  assert.match(form.key, /^profiles\/[A-Za-z0-9_-]{22}(==)?$/);
  assert.equal(form.acl, 'private');
  assert.equal(form.algorithm, 'AWS4-HMAC-SHA256');
  for (const f of ['credential', 'date', 'policy', 'signature']) assert.equal(typeof form[f], 'string', f);

  // A tampered signature is refused and stores nothing.
  const avatar = rand(40000);
  const forged = await uploadAvatar(server, { ...form, signature: '0'.repeat(64) }, avatar);
  assert.equal(forged.status, 403, forged.body.toString());
  assert.equal((await cdnRequest(server, 'GET', `/cdn0/${form.key}`)).status, 404);

  const up = await uploadAvatar(server, form, avatar);
  assert.ok([200, 201, 204].includes(up.status), `upload: ${up.status} ${up.body}`);
  // The account's access key is still the one derived from its first profile key.
  const got = (await call(unauth.chat, 'GET', `/v1/profile/${B.aci}/${body.version}`, 200, {
    headers: [['unidentified-access-key', b64(B.unidentifiedAccessKey)]],
  })).json;
  assert.equal(got.avatar, form.key, "the profile's avatar is the form's key");
  const down = await cdnRequest(server, 'GET', `/cdn0/${got.avatar}`);
  assert.equal(down.status, 200);
  assert.deepEqual(new Uint8Array(down.body), avatar);

  // sameAvatar keeps the object and the key; no new form.
  const keep = await call(bob.chat, 'PUT', '/v1/profile', 200, { json: { ...profileBody(B), avatar: true, sameAvatar: true } });
  assert.equal(keep.body.length, 0);
  const kept = (await call(alice.chat, 'GET', `/v1/profile/${B.aci}/${body.version}`, 200)).json;
  assert.equal(kept.avatar, form.key);
  assert.equal((await cdnRequest(server, 'GET', `/cdn0/${form.key}`)).status, 200);

  // Clearing removes it from the profile and deletes the object.
  await call(bob.chat, 'PUT', '/v1/profile', 200, { json: profileBody(B, { avatar: false }) });
  const cleared = (await call(alice.chat, 'GET', `/v1/profile/${B.aci}/${body.version}`, 200)).json;
  assert.equal(cleared.avatar, null);
  assert.equal((await cdnRequest(server, 'GET', `/cdn0/${form.key}`)).status, 404);
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

    test('avatar: upload form, CDN upload, download, keep, clear', T, async () => {
      await avatarFlow(srv, { A, B, alice, bob, unauth });
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

describe('avatar on the S3 blob store', { timeout: 180000 }, () => {
  let s3srv; let net; let A; let B; let alice; let bob; let unauth;
  before(async () => {
    s3srv = await startServer({ env: await s3Env() });
    net = makeNet(s3srv, 2);
    A = (await registerRaw(net, new Device({ label: 'alice' }))).device;
    B = (await registerRaw(net, new Device({ label: 'bob' }))).device;
    alice = await connectAuth(net, A.account);
    bob = await connectAuth(net, B.account);
    unauth = await connectUnauth(net);
  });
  after(async () => {
    for (const c of [alice, bob, unauth]) await c?.chat.disconnect().catch(() => {});
    await settleNative();
    if (s3srv) await s3srv.stop();
  });
  test('upload, download, keep, clear', T, async () => {
    await avatarFlow(s3srv, { A, B, alice, bob, unauth });
  });
});
