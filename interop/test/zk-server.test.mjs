// zkgroup through the running server, driven by libsignal's client side:
//   * GET /v1/certificate/auth/group: libsignal receives our AuthCredentialWithPni responses with
//     the server's public params (public/zk-server-public-params.bin), and its presentations
//     verify against the server's secret params;
//   * group send tokens: endorsements issued with the server's own secret params (as a groups
//     server sharing them would), received by libsignal, turned into GroupSendFullTokens, are
//     accepted by PUT /v1/messages/multi_recipient and GET /v2/keys for the right members and
//     refused for the wrong ones; recipients decrypt what arrives.
//
// HELIOGRAPH_ZKCLI: path of the zkcli example (cargo build -p heliograph-zk --examples), used
// only to issue endorsements from the server's secret params file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import * as S from '@signalapp/libsignal-client';
import * as zk from '@signalapp/libsignal-client/zkgroup.js';
import { startServer } from '../lib/server.mjs';
import { HTTP_VERSIONS, makeNet, connectAuth, connectUnauth } from '../lib/net.mjs';
import { Device, ServiceIdKind, bundleFromJson } from '../lib/device.mjs';
import { registerRaw } from '../lib/register.mjs';
import { call, request } from '../lib/http.mjs';
import { decodeEnvelope, EnvelopeType } from '../lib/envelope.mjs';
import { settleNative } from '../lib/native.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ZKCLI = process.env.HELIOGRAPH_ZKCLI ?? path.resolve(here, '..', '..', 'target', 'debug', 'examples', 'zkcli');
const DAY = 86400;
const T = { timeout: 60000 };
const today = () => Math.floor(Date.now() / 1000 / DAY) * DAY;
const hex = (b) => Buffer.from(b).toString('hex');
const b64 = (b) => Buffer.from(b).toString('base64');

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await settleNative(); if (srv) await srv.stop(); });

function serverSecretHex() {
  return hex(fs.readFileSync(path.join(srv.dataDir, 'secrets', 'zk-server-secret-params.bin')));
}
function serverPublicParams() {
  return new zk.ServerPublicParams(new Uint8Array(fs.readFileSync(path.join(srv.dataDir, 'public', 'zk-server-public-params.bin'))));
}
function zkcli(...args) {
  return execFileSync(ZKCLI, args.map(String), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Endorsements for `members` issued with the server's secret params; returns full tokens. */
function tokens(group, members, me) {
  const cipher = new zk.ClientZkGroupCipher(group);
  const cts = members.map((m) => hex(cipher.encryptServiceId(m).serialize())).join(',');
  const expiration = today() + 2 * DAY;
  const response = new zk.GroupSendEndorsementsResponse(new Uint8Array(Buffer.from(zkcli('issue-endorsements', serverSecretHex(), expiration, cts), 'hex')));
  const received = response.receiveWithServiceIds(members, me, group, serverPublicParams());
  return {
    combined: received.combinedEndorsement.toFullToken(group, response.getExpiration()),
    each: received.endorsements.map((e) => e.toFullToken(group, response.getExpiration())),
  };
}

for (const httpVersion of HTTP_VERSIONS) {
  describe(`zkgroup through the server over HTTP/${httpVersion}`, { timeout: 180000 }, () => {
    let net; let A; let B; let C; let alice; let bob; let carol; let unauth;
    before(async () => {
      net = makeNet(srv, httpVersion);
      A = (await registerRaw(net, new Device({ label: 'alice' }))).device;
      B = (await registerRaw(net, new Device({ label: 'bob' }))).device;
      C = (await registerRaw(net, new Device({ label: 'carol' }))).device;
      alice = await connectAuth(net, A.account);
      bob = await connectAuth(net, B.account);
      carol = await connectAuth(net, C.account);
      unauth = await connectUnauth(net);
    });
    after(async () => {
      for (const c of [alice, bob, carol, unauth]) await c?.chat.disconnect().catch(() => {});
    });

    test('group auth credentials: one per day, received by libsignal, presentations verify', T, async () => {
      const start = today(); const end = start + 7 * DAY;
      const res = await call(alice.chat, 'GET', `/v1/certificate/auth/group?redemptionStartSeconds=${start}&redemptionEndSeconds=${end}`, 200);
      assert.equal(res.json.credentials.length, 8);
      assert.equal(res.json.pni, A.pni);
      assert.deepEqual(res.json.callLinkAuthCredentials, []);
      const client = new zk.ClientZkAuthOperations(serverPublicParams());
      const group = zk.GroupSecretParams.generate();
      for (const [i, c] of res.json.credentials.entries()) {
        assert.equal(c.redemptionTime, start + i * DAY);
        const response = new zk.AuthCredentialWithPniResponse(new Uint8Array(Buffer.from(c.credential, 'base64')));
        const credential = client.receiveAuthCredentialWithPniAsServiceId(A.aciServiceId, A.pniServiceId, c.redemptionTime, response);
        if (i === 0) {
          const presentation = client.createAuthCredentialWithPniPresentation(group, credential);
          const now = Math.floor(Date.now() / 1000);
          assert.equal(zkcli('verify-auth', serverSecretHex(), hex(group.getPublicParams().serialize()), hex(presentation.serialize()), now), 'ok');
        }
      }
      // libsignal refuses a credential for someone else.
      const first = new zk.AuthCredentialWithPniResponse(new Uint8Array(Buffer.from(res.json.credentials[0].credential, 'base64')));
      assert.throws(() => client.receiveAuthCredentialWithPniAsServiceId(B.aciServiceId, A.pniServiceId, start, first));
    });

    test('group auth credential windows follow the official rules (400 otherwise)', T, async () => {
      const t = today();
      for (const [s, e] of [[t + 1, t + DAY], [t + DAY, t], [t - 2 * DAY, t], [t + DAY, t + 9 * DAY], [t - DAY, t + 7 * DAY]]) {
        await call(alice.chat, 'GET', `/v1/certificate/auth/group?redemptionStartSeconds=${s}&redemptionEndSeconds=${e}`, 400);
      }
      await call(alice.chat, 'GET', '/v1/certificate/auth/group', 400);
    });

    test('group send token: multi-recipient send accepted for the right members, refused otherwise; recipients decrypt', T, async () => {
      const group = zk.GroupSecretParams.generate();
      const members = [A.aciServiceId, B.aciServiceId, C.aciServiceId];
      const { combined, each } = tokens(group, members, A.aciServiceId);
      // Sessions from the server's bundles.
      for (const who of [B, C]) {
        const res = await call(alice.chat, 'GET', `/v2/keys/${who.aci}/*`, 200);
        await A.processBundle(bundleFromJson(res.json.identityKey, res.json.devices[0]), who.address());
      }
      const certRes = await call(alice.chat, 'GET', '/v1/certificate/delivery', 200);
      const cert = S.SenderCertificate.deserialize(new Uint8Array(Buffer.from(certRes.json.certificate, 'base64')));
      // SSv2 seals one USMC for every recipient; each recipient opens its own copy and checks
      // the sender certificate (the inner 1:1 ciphertext is Carol's, so only the outer layer
      // is opened here).
      const payload = await S.sealedSenderMultiRecipientEncrypt({
        content: S.UnidentifiedSenderMessageContent.new(await A.encrypt('hello group', C.address()), cert, S.ContentHint.Default, null),
        recipients: [B.address(), C.address()],
        identityStore: A.aciKeys.identities, sessionStore: A.aciKeys.sessions,
      });
      const ts = Date.now();
      const send = (token) => request(unauth.chat, 'PUT', `/v1/messages/multi_recipient?ts=${ts}&online=false&urgent=true`, {
        body: Buffer.from(payload), headers: [['content-type', 'application/vnd.signal-messenger.mrm'], ['group-send-token', b64(token.serialize())]],
      });
      // Wrong members: Bob's token alone, and Alice's own endorsement.
      assert.equal((await send(each[1])).status, 401);
      assert.equal((await send(each[0])).status, 401);
      const ok = await send(combined);
      assert.equal(ok.status, 200, `multi-recipient send with the group's token: ${Buffer.from(ok.body ?? []).toString()}`);
      assert.deepEqual(JSON.parse(Buffer.from(ok.body).toString()), { uuids404: [] });
      for (const [who, conn] of [[B, bob], [C, carol]]) {
        const m = await conn.listener.waitFor((l) => l.messages.find((x) => decodeEnvelope(x.envelope).clientTimestamp === ts), 10000, `group message at ${who.label}`);
        const env = decodeEnvelope(m.envelope);
        assert.equal(env.type, EnvelopeType.UNIDENTIFIED_SENDER);
        const usmc = await S.sealedSenderDecryptToUsmc(env.content, who.aciKeys.identities);
        assert.ok(usmc.senderCertificate().validate(srv.trustRoot, Date.now()));
        assert.equal(usmc.senderCertificate().senderUuid(), A.aci);
      }
    });

    test('group send token on prekey fetches: the target\'s endorsement opens its bundle, another\'s does not', T, async () => {
      const group = zk.GroupSecretParams.generate();
      const { each } = tokens(group, [A.aciServiceId, B.aciServiceId, C.aciServiceId], A.aciServiceId);
      const get = (target, token) => request(unauth.chat, 'GET', `/v2/keys/${target}/*`, { headers: [['group-send-token', b64(token.serialize())]] });
      assert.equal((await get(B.aci, each[1])).status, 200);
      assert.equal((await get(B.aci, each[2])).status, 401);
      assert.equal((await get(C.aci, each[2])).status, 200);
      // libsignal's typed fetch with a token.
      const res = await unauth.chat.getPreKeys({ target: C.aciServiceId, device: 'all', auth: each[2] });
      assert.ok(res.identityKey.equals(C.aciKeys.publicKey));
    });
  });
}
