// Sealed sender v2 (multi-recipient): libsignal's sealedSenderMultiRecipientEncrypt output sent to
// PUT /v1/messages/multi_recipient, split by the server, and decrypted by each recipient.
//
// Alice sends to Bob and Carol. Sessions come from prekey bundles fetched from the server. Auth:
//  - Unidentified-Access-Key = XOR of the recipients' keys, sent with chat.fetch on an
//    unauthenticated socket (libsignal's typed sendMultiRecipientMessage only knows 'story' and
//    group send tokens, and the server has no group send tokens yet);
//  - stories: no key, both as REST (?story=true through chat.fetch) and with the typed
//    sendMultiRecipientMessage({auth: 'story'}) (REST over HTTP/1.1, gRPC
//    MessagesAnonymous/SendMultiRecipientStory over HTTP/2).
// The group message uses sender keys, as real clients do. libsignal's sealedSenderDecryptMessage
// only opens 1:1 (PreKey/Whisper) contents, so the sender-key distribution message goes to each
// recipient as a sealed-sender v1 message first (decrypted with sealedSenderDecryptMessage, which
// validates the server's sender certificate), and the SSv2 group message is opened the way Signal
// Desktop does it: sealedSenderDecryptToUsmc, validate the sender certificate against the server's
// trust root, groupDecrypt. A second SSv2 message carries a 1:1 ciphertext for Bob, which Bob opens
// with sealedSenderDecryptMessage directly.
//
// Not run against Signal's mock server (its primary devices are in-process, not sockets).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as S from '@signalapp/libsignal-client';
import { startServer, targetKind } from '../lib/server.mjs';
import { HTTP_VERSIONS, makeNet, connectUnauth } from '../lib/net.mjs';
import { Device, ProtocolAddress, bundleFromJson } from '../lib/device.mjs';
import { call, b64 } from '../lib/http.mjs';
import { EnvelopeType } from '../lib/envelope.mjs';
import { combinedAccessKey, sendMultiRecipientRest } from '../lib/messages.mjs';
import { settleNative } from '../lib/native.mjs';
import { registerWithKeys, connectDevice, establishSession, deliveryCertificate, uniqueTs } from '../lib/setup.mjs';

const {
  UnidentifiedSenderMessageContent, ContentHint, sealedSenderMultiRecipientEncrypt, sealedSenderDecryptToUsmc,
  SenderKeyDistributionMessage, processSenderKeyDistributionMessage, groupEncrypt, groupDecrypt,
  CiphertextMessageType, PreKeyBundle, ErrorCode,
} = S;

const MOCK = targetKind() === 'mock';
const T = { timeout: 30000 };
const WAIT_MS = 10000;

let srv;
before(async () => { if (!MOCK) srv = await startServer(); });
after(async () => {
  await settleNative();
  if (srv) await srv.stop();
});

const utf8 = (s) => new Uint8Array(Buffer.from(s));
const text = (u8) => Buffer.from(u8).toString();

/** A sender that was never registered (the server does not know or check SSv2 senders). */
const throwaway = (label) => new Device({ label }).setRegistered({ aci: randomUUID(), pni: randomUUID() });

/** A local-only bundle for a device that was never registered (for the unknown-recipient case). */
function localBundle(d) {
  const k = d.aciKeys.ensureBaseKeys();
  return PreKeyBundle.new(k.registrationId, d.deviceId, null, null,
    k.signedPreKey.id(), k.signedPreKey.publicKey(), k.signedPreKey.signature(), k.publicKey,
    k.lastResort.id(), k.lastResort.publicKey(), k.lastResort.signature());
}

for (const httpVersion of HTTP_VERSIONS) {
  describe(`multi-recipient (sealed sender v2) over HTTP/${httpVersion}`, { timeout: 240000, skip: MOCK && 'not run against the mock server' }, () => {
    let net; let unauth; let alice; let bob; let carol; let cert;
    let A; let B; let C;
    const need = () => assert.ok(alice && bob && carol && cert, 'prerequisite failed: set-up did not complete');

    before(async () => {
      net = makeNet(srv, httpVersion);
      ({ chat: unauth } = await connectUnauth(net));
      A = await registerWithKeys(net, 'alice');
      B = await registerWithKeys(net, 'bob');
      C = await registerWithKeys(net, 'carol');
      alice = await connectDevice(net, A);
      bob = await connectDevice(net, B, { receiveStories: true });
      carol = await connectDevice(net, C, { receiveStories: false });
      for (const r of [bob, carol]) await r.listener.waitFor((l) => l.queueEmpty >= 1, WAIT_MS, `${r.device.label}: queue empty`);
      cert = await deliveryCertificate(alice.chat, srv.trustRoot);
      await establishSession(unauth, A, B);
      await establishSession(unauth, A, C);
    });
    after(async () => {
      for (const c of [unauth, alice?.chat, bob?.chat, carol?.chat]) await c?.disconnect().catch(() => {});
    });

    const recipients = () => [B.address(), C.address()];
    const key = () => combinedAccessKey([B.unidentifiedAccessKey, C.unidentifiedAccessKey]);
    const ssv2 = (ciphertext, { groupId = null, to = recipients(), from = A } = {}) => {
      const usmc = UnidentifiedSenderMessageContent.new(ciphertext, cert, ContentHint.Default, groupId);
      return sealedSenderMultiRecipientEncrypt({ content: usmc, recipients: to, identityStore: from.aciKeys.identities, sessionStore: from.aciKeys.sessions });
    };
    /** Sealed v1 1:1 send with the typed API (REST or gRPC) from the unauthenticated socket. */
    const sealedV1 = async (to, plaintext, ts = uniqueTs()) => {
      const sealed = await A.sealedEncrypt(plaintext, to.address(), cert);
      await unauth.sendMessage({
        destination: to.aciServiceId, timestamp: ts, onlineOnly: false, urgent: true, auth: { accessKey: to.unidentifiedAccessKey },
        contents: [{ deviceId: 1, registrationId: to.aciKeys.registrationId, contents: sealed }],
      });
      return ts;
    };
    /** A marker message through the queue: everything queued before it has been pushed once it arrives. */
    const barrier = async (r) => {
      const ts = await sealedV1(r.device, `barrier ${uniqueTs()}`);
      const m = await r.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, `barrier at ${r.device.label}`);
      const res = await r.device.sealedDecrypt(m.env.content, srv.trustRoot);
      assert.match(text(res.message()), /^barrier /);
      return m;
    };

    const distId = randomUUID();
    const groupId = new Uint8Array(32).fill(7);

    test('sender-key distribution to Bob and Carol as sealed sender v1 (sealedSenderDecryptMessage validates the certificate)', T, async () => {
      need();
      const skdm = await SenderKeyDistributionMessage.create(A.address(), distId, A.aciKeys.senderKeys);
      for (const r of [bob, carol]) {
        const ts = await sealedV1(r.device, skdm.serialize());
        const { env } = await r.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, `SKDM at ${r.device.label}`);
        assert.equal(env.type, EnvelopeType.UNIDENTIFIED_SENDER);
        const res = await r.device.sealedDecrypt(env.content, srv.trustRoot);
        assert.equal(res.senderUuid(), A.aci);
        assert.equal(res.deviceId(), 1);
        await processSenderKeyDistributionMessage(A.address(), SenderKeyDistributionMessage.deserialize(res.message()), r.device.aciKeys.senderKeys);
      }
    });

    test('SSv2 group message with the combined access key (chat.fetch, unauthenticated): both recipients decrypt', T, async () => {
      need();
      const ts = uniqueTs();
      const gmsg = await groupEncrypt(A.address(), distId, A.aciKeys.senderKeys, utf8('hello group'));
      assert.equal(gmsg.type(), CiphertextMessageType.SenderKey);
      const payload = await ssv2(gmsg, { groupId });
      const res = await sendMultiRecipientRest(unauth, payload, { timestamp: ts, accessKey: key(), urgent: true });
      assert.equal(res.status, 200, `multi_recipient → ${res.status} ${res.text}`);
      assert.deepEqual(res.json, { uuids404: [] });
      const guids = [];
      for (const r of [bob, carol]) {
        const { env, timestamp } = await r.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, `SSv2 at ${r.device.label}`);
        assert.equal(env.type, EnvelopeType.UNIDENTIFIED_SENDER, 'type 6');
        assert.equal(env.sourceServiceId, undefined, 'no source on a sealed envelope');
        assert.equal(env.sourceDevice, undefined, 'no source device on a sealed envelope');
        assert.equal(env.destinationServiceId, r.device.aci);
        assert.equal(env.urgent, true);
        assert.equal(env.story, false);
        assert.ok(env.serverTimestamp > 0 && timestamp > 0);
        guids.push(env.serverGuid);
        assert.equal(env.content[0], 0x22, 'per-recipient SSv2 ReceivedMessage (version byte 0x22)');
        const usmc = await sealedSenderDecryptToUsmc(env.content, r.device.aciKeys.identities);
        assert.ok(usmc.senderCertificate().validate(srv.trustRoot, Date.now()), 'sender certificate validates against the server trust root');
        assert.equal(usmc.senderCertificate().senderUuid(), A.aci);
        assert.equal(usmc.msgType(), CiphertextMessageType.SenderKey);
        assert.deepEqual(new Uint8Array(usmc.groupId()), groupId);
        assert.equal(text(await groupDecrypt(A.address(), r.device.aciKeys.senderKeys, usmc.contents())), 'hello group');
      }
      assert.notEqual(guids[0], guids[1], 'one server guid per recipient envelope');
    });

    test('SSv2 carrying a 1:1 ciphertext for Bob: Bob opens it with sealedSenderDecryptMessage; urgent=false kept', T, async () => {
      need();
      const ts = uniqueTs();
      const inner = await A.encrypt('for bob only', B.address());
      const payload = await ssv2(inner);
      const res = await sendMultiRecipientRest(unauth, payload, { timestamp: ts, accessKey: key(), urgent: false });
      assert.equal(res.status, 200, `multi_recipient → ${res.status} ${res.text}`);
      const { env } = await bob.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, 'SSv2 at Bob');
      assert.equal(env.urgent, false, 'urgent=false from the query');
      const r = await B.sealedDecrypt(env.content, srv.trustRoot);
      assert.equal(text(r.message()), 'for bob only');
      assert.equal(r.senderUuid(), A.aci);
      const c = await carol.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, 'SSv2 at Carol');
      const usmc = await sealedSenderDecryptToUsmc(c.env.content, C.aciKeys.identities);
      assert.equal(usmc.senderCertificate().senderUuid(), A.aci);
    });

    test('wrong combined access key: 401, nothing delivered', T, async () => {
      need();
      const ts = uniqueTs();
      const payload = await ssv2(await groupEncrypt(A.address(), distId, A.aciKeys.senderKeys, utf8('nope')));
      for (const [what, k] of [['Bob\'s key only', B.unidentifiedAccessKey], ['no XOR, zeros', new Uint8Array(16)]]) {
        const res = await sendMultiRecipientRest(unauth, payload, { timestamp: ts, accessKey: k });
        assert.equal(res.status, 401, `${what}: got ${res.status} ${res.text}`);
      }
      const none = await sendMultiRecipientRest(unauth, payload, { timestamp: ts });
      assert.equal(none.status, 401, `no access key and not a story: got ${none.status} ${none.text}`);
      for (const r of [bob, carol]) {
        await barrier(r);
        assert.ok(!r.listener.envelopes().some((e) => e.clientTimestamp === ts), `${r.device.label} got nothing from the refused sends`);
      }
    });

    test('malformed or empty body: 400', T, async () => {
      need();
      for (const [what, body] of [['empty', new Uint8Array(0)], ['garbage', utf8('not an SSv2 message')]]) {
        const res = await sendMultiRecipientRest(unauth, body, { timestamp: uniqueTs(), accessKey: key() });
        assert.equal(res.status, 400, `${what}: got ${res.status} ${res.text}`);
      }
    });

    test('bad query: ts not a number → 400', T, async () => {
      need();
      const payload = await ssv2(await groupEncrypt(A.address(), distId, A.aciKeys.senderKeys, utf8('bad ts')));
      const res = await sendMultiRecipientRest(unauth, payload, { timestamp: 'soon', accessKey: key() });
      assert.equal(res.status, 400, `got ${res.status} ${res.text}`);
    });

    test('Unidentified-Access-Key and Group-Send-Token together: 400', T, async () => {
      need();
      const payload = await ssv2(await A.encrypt('both auths', B.address()));
      const res = await sendMultiRecipientRest(unauth, payload, { timestamp: uniqueTs(), accessKey: key(), extraHeaders: [['group-send-token', b64(new Uint8Array(64).fill(9))]] });
      assert.equal(res.status, 400, `got ${res.status} ${res.text}`);
    });

    test('the same recipient device twice in one SSv2 message: 400', T, async () => {
      need();
      // libsignal builds this (it does not deduplicate recipients); the server must refuse it
      const payload = await ssv2(await A.encrypt('dup', B.address()), { to: [B.address(), B.address(), C.address()] });
      const res = await sendMultiRecipientRest(unauth, payload, { timestamp: uniqueTs(), accessKey: key() });
      assert.equal(res.status, 400, `got ${res.status} ${res.text}`);
    });

    test('online=true (ephemeral): pushed to connected Bob, not stored for offline Carol', T, async () => {
      need();
      await carol.chat.disconnect();
      carol = null;
      const ts = uniqueTs();
      const payload = await ssv2(await groupEncrypt(A.address(), distId, A.aciKeys.senderKeys, utf8('online only')));
      const res = await sendMultiRecipientRest(unauth, payload, { timestamp: ts, accessKey: key(), onlineOnly: true });
      assert.equal(res.status, 200, `got ${res.status} ${res.text}`);
      const { env } = await bob.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, 'ephemeral SSv2 at Bob');
      const usmc = await sealedSenderDecryptToUsmc(env.content, B.aciKeys.identities);
      assert.equal(text(await groupDecrypt(A.address(), B.aciKeys.senderKeys, usmc.contents())), 'online only');
      carol = await connectDevice(net, C, { receiveStories: false });
      await carol.listener.waitFor((l) => l.queueEmpty >= 1, WAIT_MS, 'Carol: queue empty');
      assert.deepEqual(carol.listener.envelopes().filter((e) => e.clientTimestamp === ts), [], 'not stored for Carol');
    });

    test('an unrestricted recipient is left out of the XOR; typed sends with auth \'unrestricted\' reach it', T, async () => {
      need();
      const E = await registerWithKeys(net, 'eve');
      const e0 = await connectDevice(net, E);
      try {
        await call(e0.chat, 'PUT', '/v1/accounts/attributes', [200, 204], { json: { ...E.accountAttributesJson(), unrestrictedUnidentifiedAccess: true } });
        await e0.listener.waitFor((l) => l.queueEmpty >= 1, WAIT_MS, 'Eve: queue empty');
        // typed getPreKeys with 'unrestricted' (sixteen zero bytes as the access key)
        const keys = await unauth.getPreKeys({ target: E.aciServiceId, device: { deviceId: 1 }, auth: 'unrestricted' });
        await A.processBundle(keys.preKeyBundles[0], E.address());
        // typed 1:1 sealed send with 'unrestricted' (REST over HTTP/1.1, gRPC over HTTP/2)
        const ts1 = uniqueTs();
        await unauth.sendMessage({
          destination: E.aciServiceId, timestamp: ts1, onlineOnly: false, urgent: true, auth: 'unrestricted',
          contents: [{ deviceId: 1, registrationId: E.aciKeys.registrationId, contents: await A.sealedEncrypt('unrestricted hi', E.address(), cert) }],
        });
        const m1 = await e0.listener.takeEnvelope((e) => e.clientTimestamp === ts1, WAIT_MS, 'sealed v1 at Eve');
        assert.equal(text((await E.sealedDecrypt(m1.env.content, srv.trustRoot)).message()), 'unrestricted hi');
        // SSv2 to Bob + Eve: the combined key is Bob's alone
        const skdm = await SenderKeyDistributionMessage.create(A.address(), distId, A.aciKeys.senderKeys);
        await processSenderKeyDistributionMessage(A.address(), SenderKeyDistributionMessage.deserialize(skdm.serialize()), E.aciKeys.senderKeys); // out of band, for brevity
        const payload = await ssv2(await groupEncrypt(A.address(), distId, A.aciKeys.senderKeys, utf8('bob and eve')), { to: [B.address(), E.address()] });
        const withEve = await sendMultiRecipientRest(unauth, payload, { timestamp: uniqueTs(), accessKey: combinedAccessKey([B.unidentifiedAccessKey, E.unidentifiedAccessKey]) });
        assert.equal(withEve.status, 401, `Eve's key XORed in although she is unrestricted: got ${withEve.status} ${withEve.text}`);
        const ts2 = uniqueTs();
        const ok = await sendMultiRecipientRest(unauth, payload, { timestamp: ts2, accessKey: B.unidentifiedAccessKey });
        assert.equal(ok.status, 200, `Bob's key only: got ${ok.status} ${ok.text}`);
        for (const [d, l] of [[B, bob.listener], [E, e0.listener]]) {
          const { env } = await l.takeEnvelope((e) => e.clientTimestamp === ts2, WAIT_MS, `SSv2 at ${d.label}`);
          const usmc = await sealedSenderDecryptToUsmc(env.content, d.aciKeys.identities);
          assert.equal(text(await groupDecrypt(A.address(), d.aciKeys.senderKeys, usmc.contents())), 'bob and eve');
        }
      } finally {
        await e0.chat.disconnect();
      }
    });

    // Throwaway senders (never registered) build SSv2 messages from sessions the tests shape; the
    // server does not know or check the SSv2 sender.
    let bobJson;
    const bobBundleJson = async () => {
      bobJson ??= (await call(unauth, 'GET', `/v2/keys/${B.aci}/1`, 200, { headers: [['unidentified-access-key', b64(B.unidentifiedAccessKey)]] })).json;
      return bobJson;
    };

    test('unknown recipient: 404', T, async () => {
      need();
      const x = throwaway('x-unknown');
      const j = await bobBundleJson();
      await x.processBundle(bundleFromJson(j.identityKey, j.devices[0]), B.address());
      const ghost = new Device({ label: 'ghost' }).setRegistered({ aci: randomUUID(), pni: randomUUID() });
      await x.processBundle(localBundle(ghost), ghost.address());
      const payload = await ssv2(await x.encrypt('x', B.address()), { from: x, to: [B.address(), ghost.address()] });
      const res = await sendMultiRecipientRest(unauth, payload, { timestamp: uniqueTs(), accessKey: combinedAccessKey([B.unidentifiedAccessKey, ghost.unidentifiedAccessKey]) });
      assert.equal(res.status, 404, `got ${res.status} ${res.text}`);
    });

    test('a PNI recipient with the access key path: 401', T, async () => {
      need();
      const x = throwaway('x-pni');
      const j = (await call(alice.chat, 'GET', `/v2/keys/PNI:${B.pni}/1`, 200)).json;
      const pniAddr = ProtocolAddress.new(B.pniServiceId, 1);
      await x.processBundle(bundleFromJson(j.identityKey, j.devices[0]), pniAddr);
      const payload = await ssv2(await x.encrypt('x', pniAddr), { from: x, to: [pniAddr] });
      const res = await sendMultiRecipientRest(unauth, payload, { timestamp: uniqueTs(), accessKey: B.unidentifiedAccessKey });
      assert.equal(res.status, 401, `got ${res.status} ${res.text}`);
    });

    test('stale registration id: 410 [{uuid, devices:{staleDevices:[1]}}]', T, async () => {
      need();
      const x = throwaway('x-stale');
      const j = await bobBundleJson();
      const wrongRegId = (j.devices[0].registrationId % 0x3fff) + 1;
      await x.processBundle(bundleFromJson(j.identityKey, { ...j.devices[0], registrationId: wrongRegId }), B.address());
      const payload = await ssv2(await x.encrypt('x', B.address()), { from: x, to: [B.address()] });
      const res = await sendMultiRecipientRest(unauth, payload, { timestamp: uniqueTs(), accessKey: B.unidentifiedAccessKey });
      assert.equal(res.status, 410, `got ${res.status} ${res.text}`);
      assert.ok(Array.isArray(res.json) && res.json.length === 1, `body is a one-entry list: ${res.text}`);
      assert.equal(res.json[0].uuid, B.aci);
      assert.deepEqual(res.json[0].devices.staleDevices, [1]);
    });

    test('extra device: 409 [{uuid, devices:{missingDevices:[], extraDevices:[2]}}]', T, async () => {
      need();
      const x = throwaway('x-extra');
      const j = await bobBundleJson();
      const b2 = ProtocolAddress.new(B.aciServiceId, 2);
      await x.processBundle(bundleFromJson(j.identityKey, j.devices[0]), B.address());
      await x.processBundle(bundleFromJson(j.identityKey, { ...j.devices[0], deviceId: 2 }), b2);
      const payload = await ssv2(await x.encrypt('x', B.address()), { from: x, to: [B.address(), b2] });
      const res = await sendMultiRecipientRest(unauth, payload, { timestamp: uniqueTs(), accessKey: B.unidentifiedAccessKey });
      assert.equal(res.status, 409, `got ${res.status} ${res.text}`);
      assert.ok(Array.isArray(res.json) && res.json.length === 1, `body is a one-entry list: ${res.text}`);
      assert.equal(res.json[0].uuid, B.aci);
      assert.deepEqual(res.json[0].devices.missingDevices ?? [], []);
      assert.deepEqual(res.json[0].devices.extraDevices, [2]);
    });

    test('409 wins over 410 when both apply', T, async () => {
      need();
      const x = throwaway('x-both');
      const j = await bobBundleJson();
      const b2 = ProtocolAddress.new(B.aciServiceId, 2);
      const wrongRegId = (j.devices[0].registrationId % 0x3fff) + 1;
      await x.processBundle(bundleFromJson(j.identityKey, { ...j.devices[0], registrationId: wrongRegId }), B.address());
      await x.processBundle(bundleFromJson(j.identityKey, { ...j.devices[0], deviceId: 2 }), b2);
      const payload = await ssv2(await x.encrypt('x', B.address()), { from: x, to: [B.address(), b2] });
      const res = await sendMultiRecipientRest(unauth, payload, { timestamp: uniqueTs(), accessKey: B.unidentifiedAccessKey });
      assert.equal(res.status, 409, `got ${res.status} ${res.text}`);
    });

    const storyCase = (how) => test(`story (${how}): delivered to Bob (receiveStories=true) only; withheld from Carol and dropped`, T, async () => {
      need();
      const ts = uniqueTs();
      const gmsg = await groupEncrypt(A.address(), distId, A.aciKeys.senderKeys, utf8(`story ${how}`));
      const payload = await ssv2(gmsg, { groupId });
      if (how === 'REST') {
        const res = await sendMultiRecipientRest(unauth, payload, { timestamp: ts, story: true, urgent: false });
        assert.equal(res.status, 200, `multi_recipient?story=true → ${res.status} ${res.text}`);
        assert.deepEqual(res.json, { uuids404: [] });
      } else {
        const r = await unauth.sendMultiRecipientMessage({ payload, timestamp: ts, auth: 'story', onlineOnly: false, urgent: false });
        assert.deepEqual(r.unregisteredIds, []);
      }
      const { env } = await bob.listener.takeEnvelope((e) => e.clientTimestamp === ts, WAIT_MS, 'story at Bob');
      assert.equal(env.story, true, 'story flag (16)');
      assert.equal(env.type, EnvelopeType.UNIDENTIFIED_SENDER);
      const usmc = await sealedSenderDecryptToUsmc(env.content, B.aciKeys.identities);
      assert.equal(text(await groupDecrypt(A.address(), B.aciKeys.senderKeys, usmc.contents())), `story ${how}`);
      // Carol's socket asked for no stories: a later message arrives, the story never did
      await barrier(carol);
      assert.ok(!carol.listener.envelopes().some((e) => e.clientTimestamp === ts), 'story withheld from Carol');
      // ... and it was dropped, not kept: a new socket that does take stories gets nothing either
      await carol.chat.disconnect();
      carol = null;
      const again = await connectDevice(net, C, { receiveStories: true });
      carol = again;
      await again.listener.waitFor((l) => l.queueEmpty >= 1, WAIT_MS, 'Carol: queue empty after reconnect');
      assert.deepEqual(again.listener.envelopes().filter((e) => e.clientTimestamp === ts || e.story), [], 'no story kept for Carol');
      await again.chat.disconnect();
      carol = await connectDevice(net, C, { receiveStories: false });
      await carol.listener.waitFor((l) => l.queueEmpty >= 1, WAIT_MS, 'Carol: queue empty');
    });
    storyCase('REST');
    storyCase(`typed sendMultiRecipientMessage auth 'story' (${httpVersion === 2 ? 'gRPC SendMultiRecipientStory' : 'REST'})`);

    test('typed sendMultiRecipientMessage story with a stale device list: MismatchedDevices', T, async () => {
      need();
      const x = throwaway('x-story-stale');
      const j = await bobBundleJson();
      const wrongRegId = (j.devices[0].registrationId % 0x3fff) + 1;
      await x.processBundle(bundleFromJson(j.identityKey, { ...j.devices[0], registrationId: wrongRegId }), B.address());
      const payload = await ssv2(await x.encrypt('x', B.address()), { from: x, to: [B.address()] });
      await assert.rejects(unauth.sendMultiRecipientMessage({ payload, timestamp: uniqueTs(), auth: 'story', onlineOnly: false, urgent: false }), (e) => {
        assert.equal(e.code, ErrorCode.MismatchedDevices, `${e.code}: ${e.message}`);
        assert.equal(e.entries[0].account.getServiceIdString(), B.aci);
        assert.deepEqual(e.entries[0].staleDevices, [1]);
        return true;
      });
    });

    test('unknown recipient in a story: 200 and dropped (no access check for stories)', T, async () => {
      need();
      const ghost = new Device({ label: 'ghost2' }).setRegistered({ aci: randomUUID(), pni: randomUUID() });
      const x = throwaway('x-story-ghost');
      await x.processBundle(localBundle(ghost), ghost.address());
      const payload = await ssv2(await x.encrypt('x', ghost.address()), { from: x, to: [ghost.address()] });
      const res = await sendMultiRecipientRest(unauth, payload, { timestamp: uniqueTs(), story: true });
      assert.equal(res.status, 200, `got ${res.status} ${res.text}`);
    });

  });
}
