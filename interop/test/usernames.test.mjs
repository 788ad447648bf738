// Usernames driven by libsignal, over HTTP/1.1 (REST, as libsignal and the apps send it) and
// HTTP/2 (libsignal's typed gRPC username APIs):
//   * Bob reserves username hashes from libsignal's `usernames` module and confirms one with the
//     zero-knowledge proof libsignal makes; Alice looks the hash up with libsignal's typed API;
//   * the username link: Bob stores the encrypted username libsignal made, Alice resolves and
//     decrypts it through `lookUpUsernameLink`;
//   * a hash reserved by Bob is unavailable to Carol; a proof for another username is refused;
//     confirming without a reservation is refused; deleting releases the username.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as S from '@signalapp/libsignal-client';
import { startServer } from '../lib/server.mjs';
import { HTTP_VERSIONS, makeNet, connectAuth, connectUnauth } from '../lib/net.mjs';
import { Device } from '../lib/device.mjs';
import { registerRaw } from '../lib/register.mjs';
import { b64url, call, request } from '../lib/http.mjs';
import { settleNative } from '../lib/native.mjs';

const { usernames } = S;
const T = { timeout: 60000 };
let counter = 0;
/** Fresh candidate usernames (nickname.discriminator) no other test uses. */
function candidates() {
  counter += 1;
  return usernames.generateCandidates(`heliotest${Date.now() % 100000}x${counter}`, 3, 32);
}

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await settleNative(); if (srv) await srv.stop(); });

/** Reserve + confirm over REST, exactly the JSON of the official API. Returns the body. */
async function claimRest(chat, username, encryptedUsername) {
  const hash = usernames.hash(username);
  const reserved = (await call(chat, 'PUT', '/v1/accounts/username_hash/reserve', 200, {
    json: { usernameHashes: [b64url(hash)] },
  })).json;
  assert.equal(reserved.usernameHash, b64url(hash));
  return (await call(chat, 'PUT', '/v1/accounts/username_hash/confirm', 200, {
    json: { usernameHash: b64url(hash), zkProof: b64url(usernames.generateProof(username)), encryptedUsername: b64url(encryptedUsername) },
  })).json;
}

for (const httpVersion of HTTP_VERSIONS) {
  describe(`usernames over HTTP/${httpVersion}`, { timeout: 180000 }, () => {
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

    test('reserve, confirm with the proof, look up with the typed API', T, async () => {
      const names = candidates();
      const hashes = names.map((n) => usernames.hash(n));
      const link = usernames.createUsernameLink(names[0]);
      let handle;
      if (httpVersion === 2) {
        const reserved = await bob.chat.reserveUsernameHash({ usernameHashes: hashes });
        assert.deepEqual(Buffer.from(reserved), Buffer.from(hashes[0]), 'first free candidate reserved');
        handle = await bob.chat.confirmUsername({ username: names[0], usernameCiphertext: link.encryptedUsername });
      } else {
        const confirmed = await claimRest(bob.chat, names[0], link.encryptedUsername);
        assert.equal(confirmed.usernameHash, b64url(hashes[0]));
        handle = confirmed.usernameLinkHandle;
      }
      assert.ok(handle, 'a link handle comes back');

      const found = await unauth.chat.lookUpUsernameHash({ hash: hashes[0] });
      assert.ok(found, 'the hash resolves');
      assert.equal(found.getServiceIdString(), B.aci);
      // Over REST too, and never with credentials.
      const rest = (await call(unauth.chat, 'GET', `/v1/accounts/username_hash/${b64url(hashes[0])}`, 200)).json;
      assert.equal(rest.uuid, B.aci);
      const me = (await call(bob.chat, 'GET', '/v1/accounts/whoami', 200)).json;
      assert.equal(me.usernameHash, b64url(hashes[0]));

      // The link resolves to the username, decrypted by libsignal with the entropy.
      assert.equal(typeof handle, 'string');
      const resolved = await unauth.chat.lookUpUsernameLink({ uuid: handle, entropy: link.entropy });
      assert.ok(resolved, `link ${handle} resolves`);
      assert.equal(resolved.username, names[0]);

      // Unknown hashes resolve to null.
      assert.equal(await unauth.chat.lookUpUsernameHash({ hash: usernames.hash(candidates()[0]) }), null);
    });

    test('taken, bad proof, no reservation, release', T, async () => {
      const names = candidates();
      const hash = usernames.hash(names[0]);
      // Carol reserves; Bob then cannot.
      await call(carol.chat, 'PUT', '/v1/accounts/username_hash/reserve', 200, { json: { usernameHashes: [b64url(hash)] } });
      const taken = await request(bob.chat, 'PUT', '/v1/accounts/username_hash/reserve', { json: { usernameHashes: [b64url(hash)] } });
      assert.equal(taken.status, 409);
      if (httpVersion === 2) {
        await assert.rejects(bob.chat.reserveUsernameHash({ usernameHashes: [hash] }), (e) => {
          assert.equal(e.code, S.ErrorCode.UsernameNotAvailable, String(e));
          return true;
        });
      }
      // A proof for another username than the hash: 422.
      const other = candidates()[0];
      const bad = await request(carol.chat, 'PUT', '/v1/accounts/username_hash/confirm', {
        json: { usernameHash: b64url(hash), zkProof: b64url(usernames.generateProof(other)) },
      });
      assert.equal(bad.status, 422, bad.text);
      // A valid proof without a reservation: 409.
      const unreserved = await request(alice.chat, 'PUT', '/v1/accounts/username_hash/confirm', {
        json: { usernameHash: b64url(hash), zkProof: b64url(usernames.generateProof(names[0])) },
      });
      assert.equal(unreserved.status, 409);
      // Carol confirms (no link), then releases it.
      await call(carol.chat, 'PUT', '/v1/accounts/username_hash/confirm', 200, {
        json: { usernameHash: b64url(hash), zkProof: b64url(usernames.generateProof(names[0])) },
      });
      assert.equal((await unauth.chat.lookUpUsernameHash({ hash })).getServiceIdString(), C.aci);
      // Lookups must be anonymous.
      const authed = await request(alice.chat, 'GET', `/v1/accounts/username_hash/${b64url(hash)}`);
      assert.equal(authed.status, 400);
      const wrongLen = await request(unauth.chat, 'GET', `/v1/accounts/username_hash/${b64url(hash.subarray(0, 31))}`);
      assert.equal(wrongLen.status, 422);
      await call(carol.chat, 'DELETE', '/v1/accounts/username_hash', 204);
      assert.equal(await unauth.chat.lookUpUsernameHash({ hash }), null);
      // A link needs a username.
      const noName = await request(carol.chat, 'PUT', '/v1/accounts/username_link', {
        json: { usernameLinkEncryptedValue: b64url(new Uint8Array(32)), keepLinkHandle: false },
      });
      assert.equal(noName.status, 409);
    });

    test('username link rotation and keepLinkHandle', T, async () => {
      const names = candidates();
      await claimRest(alice.chat, names[0], usernames.createUsernameLink(names[0]).encryptedUsername);
      const first = usernames.createUsernameLink(names[0]);
      const h1 = (await call(alice.chat, 'PUT', '/v1/accounts/username_link', 200, {
        json: { usernameLinkEncryptedValue: b64url(first.encryptedUsername), keepLinkHandle: false },
      })).json.usernameLinkHandle;
      const again = usernames.createUsernameLink(names[0], first.entropy);
      const kept = (await call(alice.chat, 'PUT', '/v1/accounts/username_link', 200, {
        json: { usernameLinkEncryptedValue: b64url(again.encryptedUsername), keepLinkHandle: true },
      })).json.usernameLinkHandle;
      assert.equal(kept, h1);
      const raw = (await call(unauth.chat, 'GET', `/v1/accounts/username_link/${h1}`, 200)).json;
      assert.equal(raw.usernameLinkEncryptedValue, b64url(again.encryptedUsername));
      assert.equal(usernames.decryptUsernameLink({ entropy: again.entropy, encryptedUsername: again.encryptedUsername }), names[0]);
      const rotated = (await call(alice.chat, 'PUT', '/v1/accounts/username_link', 200, {
        json: { usernameLinkEncryptedValue: b64url(again.encryptedUsername), keepLinkHandle: false },
      })).json.usernameLinkHandle;
      assert.notEqual(rotated, h1);
      assert.equal((await request(unauth.chat, 'GET', `/v1/accounts/username_link/${h1}`)).status, 404);
      await call(alice.chat, 'DELETE', '/v1/accounts/username_link', 204);
      assert.equal((await request(unauth.chat, 'GET', `/v1/accounts/username_link/${rotated}`)).status, 404);
      assert.equal((await request(unauth.chat, 'GET', '/v1/accounts/username_link/not-a-uuid')).status, 400);
      await call(alice.chat, 'DELETE', '/v1/accounts/username_hash', 204);
    });
  });
}
