// zkgroup interop: heliograph-zk (Rust, via the `zkcli` example binary) against libsignal's
// Node binding, in both directions; also username hashes and username proofs (libsignal's
// `usernames` API).
//
// Environment:
//   HELIOGRAPH_ZKCLI  path of the zkcli example binary
//                     (default: ../target/debug/examples/zkcli relative to interop/, i.e. what
//                     `cargo build -p heliograph-zk --examples` produces with the default target dir).
//
// Run from interop/ (where @signalapp/libsignal-client resolves): node --test test/zk-vectors.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Aci, Pni, usernames, ErrorCode } from '@signalapp/libsignal-client';
import * as zk from '@signalapp/libsignal-client/zkgroup.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ZKCLI = process.env.HELIOGRAPH_ZKCLI ?? path.resolve(here, '..', '..', 'target', 'debug', 'examples', 'zkcli');

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');

/** Runs zkcli; returns trimmed stdout, throws on a non-zero exit. */
function cli(...args) {
  return execFileSync(ZKCLI, args.map(String), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}
/** True when zkcli reports success ("ok"), false on a verification failure. */
function cliOk(...args) {
  try {
    return cli(...args) === 'ok';
  } catch {
    return false;
  }
}

const DAY = 86400;
const today = () => Math.floor(Date.now() / 1000 / DAY) * DAY;

test('libsignal-generated secret params load and give identical public params', () => {
  for (let i = 0; i < 3; i++) {
    const secret = zk.ServerSecretParams.generate();
    const ours = cli('public-params', hex(secret.serialize()));
    assert.equal(ours, hex(secret.getPublicParams().serialize()));
  }
});

test('deterministic generation matches libsignal generateWithRandom', () => {
  const seed = randomBytes(32);
  const theirs = zk.ServerSecretParams.generateWithRandom(seed).serialize();
  assert.equal(cli('gen-params-seed', hex(seed)), hex(theirs));
});

test('our secret params load in libsignal; our signatures verify there', () => {
  const ourSecret = cli('gen-params');
  assert.equal(ourSecret.length, 2721 * 2);
  const secret = new zk.ServerSecretParams(unhex(ourSecret));
  assert.equal(hex(secret.getPublicParams().serialize()), cli('public-params', ourSecret));
  const publicParams = new zk.ServerPublicParams(unhex(cli('public-params', ourSecret)));
  const msg = randomBytes(40);
  const sig = unhex(cli('sign', ourSecret, hex(msg)));
  publicParams.verifySignature(msg, new zk.NotarySignature(sig));
  assert.throws(() => publicParams.verifySignature(randomBytes(40), new zk.NotarySignature(sig)));
});

test('our AuthCredentialWithPni is received by libsignal; its presentation verifies with us', () => {
  const secretHex = cli('gen-params');
  const publicParams = new zk.ServerPublicParams(unhex(cli('public-params', secretHex)));
  const aci = Aci.fromUuid(randomUUID());
  const pni = Pni.fromUuid(randomUUID());
  const t = today();
  const respHex = cli('issue-auth', secretHex, aci.getRawUuid(), pni.getRawUuid(), t);
  assert.equal(respHex.length, 425 * 2);
  const client = new zk.ClientZkAuthOperations(publicParams);
  const cred = client.receiveAuthCredentialWithPniAsServiceId(aci, pni, t, new zk.AuthCredentialWithPniResponse(unhex(respHex)));
  // Wrong identity or time: libsignal refuses our response.
  assert.throws(() => client.receiveAuthCredentialWithPniAsServiceId(Aci.fromUuid(randomUUID()), pni, t, new zk.AuthCredentialWithPniResponse(unhex(respHex))));
  assert.throws(() => client.receiveAuthCredentialWithPniAsServiceId(aci, pni, t + DAY, new zk.AuthCredentialWithPniResponse(unhex(respHex))));

  const group = zk.GroupSecretParams.generate();
  const pres = client.createAuthCredentialWithPniPresentation(group, cred);
  const gpp = hex(group.getPublicParams().serialize());
  const now = Math.floor(Date.now() / 1000);
  assert.ok(cliOk('verify-auth', secretHex, gpp, hex(pres.serialize()), now));
  // Another group's public params, or a time outside the window, fail.
  assert.ok(!cliOk('verify-auth', secretHex, hex(zk.GroupSecretParams.generate().getPublicParams().serialize()), hex(pres.serialize()), now));
  assert.ok(!cliOk('verify-auth', secretHex, gpp, hex(pres.serialize()), t + 3 * DAY + 1));
  // Another server's secret params fail.
  assert.ok(!cliOk('verify-auth', cli('gen-params'), gpp, hex(pres.serialize()), now));
});

test('a presentation for another ACI fails', () => {
  const secret = zk.ServerSecretParams.generate();
  const secretHex = hex(secret.serialize());
  const server = new zk.ServerZkAuthOperations(secret);
  const client = new zk.ClientZkAuthOperations(secret.getPublicParams());
  const t = today();
  const aci = Aci.fromUuid(randomUUID());
  const pni = Pni.fromUuid(randomUUID());
  const cred = client.receiveAuthCredentialWithPniAsServiceId(aci, pni, t, server.issueAuthCredentialWithPniZkc(aci, pni, t));
  const group = zk.GroupSecretParams.generate();
  const pres = client.createAuthCredentialWithPniPresentation(group, cred);
  const bytes = Buffer.from(pres.serialize());
  // Swap in the ciphertext of another ACI (same group key): the proof no longer matches.
  const other = new zk.ClientZkGroupCipher(group).encryptServiceId(Aci.fromUuid(randomUUID())).serialize();
  const ctOffset = bytes.length - 8 - 64 - 64; // aci ciphertext (64), pni ciphertext (64), time (8)
  const forged = Buffer.concat([bytes.subarray(0, ctOffset), Buffer.from(other).subarray(1), bytes.subarray(ctOffset + 64)]);
  assert.equal(forged.length, bytes.length);
  const now = Math.floor(Date.now() / 1000);
  const gpp = hex(group.getPublicParams().serialize());
  assert.ok(cliOk('verify-auth', secretHex, gpp, hex(bytes), now));
  assert.ok(!cliOk('verify-auth', secretHex, gpp, hex(forged), now));
});

test('libsignal-issued credential presentations verify with our code', () => {
  const secret = zk.ServerSecretParams.generate();
  const server = new zk.ServerZkAuthOperations(secret);
  const client = new zk.ClientZkAuthOperations(secret.getPublicParams());
  const t = today();
  const aci = Aci.fromUuid(randomUUID());
  const pni = Pni.fromUuid(randomUUID());
  const cred = client.receiveAuthCredentialWithPniAsServiceId(aci, pni, t, server.issueAuthCredentialWithPniZkc(aci, pni, t));
  const group = zk.GroupSecretParams.generate();
  const pres = client.createAuthCredentialWithPniPresentation(group, cred);
  const now = Math.floor(Date.now() / 1000);
  assert.ok(cliOk('verify-auth', hex(secret.serialize()), hex(group.getPublicParams().serialize()), hex(pres.serialize()), now));
});

test('our group send endorsements are received by libsignal; full tokens verify with us', () => {
  const secretHex = cli('gen-params');
  const publicParams = new zk.ServerPublicParams(unhex(cli('public-params', secretHex)));
  const group = zk.GroupSecretParams.generate();
  const cipher = new zk.ClientZkGroupCipher(group);
  const alice = Aci.fromUuid(randomUUID());
  const bob = Aci.fromUuid(randomUUID());
  const carol = Pni.fromUuid(randomUUID());
  const members = [alice, bob, carol];
  const cts = members.map((m) => hex(cipher.encryptServiceId(m).serialize())).join(',');
  const expiration = today() + 2 * DAY;
  const respHex = cli('issue-endorsements', secretHex, expiration, cts);
  const response = new zk.GroupSendEndorsementsResponse(unhex(respHex));
  assert.equal(response.getExpiration().getTime(), expiration * 1000);
  const received = response.receiveWithServiceIds(members, alice, group, publicParams);
  const full = received.combinedEndorsement.toFullToken(group, response.getExpiration());
  const now = Math.floor(Date.now() / 1000);
  const sids = (xs) => xs.map((x) => x.getServiceIdString()).join(',');
  assert.ok(cliOk('verify-token', secretHex, hex(full.serialize()), now, sids([bob, carol])));
  assert.ok(cliOk('verify-token', secretHex, hex(full.serialize()), now, sids([carol, bob])));
  assert.ok(!cliOk('verify-token', secretHex, hex(full.serialize()), now, sids([bob])));
  assert.ok(!cliOk('verify-token', secretHex, hex(full.serialize()), now, sids([alice, bob, carol])));
  assert.ok(!cliOk('verify-token', secretHex, hex(full.serialize()), expiration + 1, sids([bob, carol])));
  assert.ok(!cliOk('verify-token', cli('gen-params'), hex(full.serialize()), now, sids([bob, carol])));
  // A single member's endorsement also works.
  const single = received.endorsements[1].toFullToken(group, response.getExpiration());
  assert.ok(cliOk('verify-token', secretHex, hex(single.serialize()), now, sids([bob])));
  // libsignal's own server check agrees with the token we verified.
  const secret = new zk.ServerSecretParams(unhex(secretHex));
  new zk.GroupSendFullToken(full.serialize()).verify([bob, carol], zk.GroupSendDerivedKeyPair.forExpiration(new Date(expiration * 1000), secret));
});

test('libsignal-issued endorsements give tokens our verify accepts', () => {
  const secret = zk.ServerSecretParams.generate();
  const group = zk.GroupSecretParams.generate();
  const cipher = new zk.ClientZkGroupCipher(group);
  const members = [Aci.fromUuid(randomUUID()), Aci.fromUuid(randomUUID())];
  const DAYMS = DAY * 1000;
  const expiration = new Date(Math.floor(Date.now() / DAYMS) * DAYMS + 2 * DAYMS);
  const keyPair = zk.GroupSendDerivedKeyPair.forExpiration(expiration, secret);
  const response = zk.GroupSendEndorsementsResponse.issue(members.map((m) => cipher.encryptServiceId(m)), keyPair);
  const received = response.receiveWithServiceIds(members, members[0], group, secret.getPublicParams());
  const full = received.combinedEndorsement.toFullToken(group, response.getExpiration());
  const now = Math.floor(Date.now() / 1000);
  // The combined endorsement leaves out the local user (members[0]).
  assert.ok(cliOk('verify-token', hex(secret.serialize()), hex(full.serialize()), now, members[1].getServiceIdString()));
  assert.ok(!cliOk('verify-token', hex(secret.serialize()), hex(full.serialize()), now, members.map((m) => m.getServiceIdString()).join(',')));
});

test('libsignal receives our expiring profile key credential; wrong profile key is refused', () => {
  const secretHex = cli('gen-params');
  const publicParams = new zk.ServerPublicParams(unhex(cli('public-params', secretHex)));
  const aci = Aci.fromUuid(randomUUID());
  const profileKey = new zk.ProfileKey(randomBytes(32));
  const client = new zk.ClientZkProfileOperations(publicParams);
  const ctx = client.createProfileKeyCredentialRequestContext(aci, profileKey);
  const request = hex(ctx.getRequest().serialize());
  const commitment = hex(profileKey.getCommitment(aci).serialize());
  const expiration = today() + 7 * DAY;
  const respHex = cli('issue-profile', secretHex, request, aci.getRawUuid(), commitment, expiration);
  assert.equal(respHex.length, 497 * 2);
  const cred = client.receiveExpiringProfileKeyCredential(ctx, new zk.ExpiringProfileKeyCredentialResponse(unhex(respHex)));
  assert.equal(cred.getExpirationTime().getTime(), expiration * 1000);
  // The credential is usable: libsignal's server verifies a presentation of it.
  const group = zk.GroupSecretParams.generate();
  const pres = client.createExpiringProfileKeyCredentialPresentation(group, cred);
  new zk.ServerZkProfileOperations(new zk.ServerSecretParams(unhex(secretHex))).verifyProfileKeyCredentialPresentation(group.getPublicParams(), pres);
  // ...and so does ours; another group's params or a time past expiration fail.
  const gpp = hex(group.getPublicParams().serialize());
  const now = Math.floor(Date.now() / 1000);
  assert.ok(cliOk('verify-profile', secretHex, gpp, hex(pres.serialize()), now));
  assert.ok(!cliOk('verify-profile', secretHex, hex(zk.GroupSecretParams.generate().getPublicParams().serialize()), hex(pres.serialize()), now));
  assert.ok(!cliOk('verify-profile', secretHex, gpp, hex(pres.serialize()), expiration));
  assert.ok(!cliOk('verify-profile', cli('gen-params'), gpp, hex(pres.serialize()), now));

  // Commitment of another profile key, or of the same key for another ACI: refused.
  const otherKey = new zk.ProfileKey(randomBytes(32));
  assert.throws(() => cli('issue-profile', secretHex, request, aci.getRawUuid(), hex(otherKey.getCommitment(aci).serialize()), expiration));
  assert.throws(() => cli('issue-profile', secretHex, request, aci.getRawUuid(), hex(profileKey.getCommitment(Aci.fromUuid(randomUUID())).serialize()), expiration));
  // Issued for another ACI: libsignal's client rejects the response.
  const wrong = cli('issue-profile', secretHex, request, randomUUID(), commitment, expiration);
  assert.throws(() => client.receiveExpiringProfileKeyCredential(ctx, new zk.ExpiringProfileKeyCredentialResponse(unhex(wrong))));
});

test('same randomness, same bytes as libsignal (sign, auth, endorsements, profile key)', () => {
  const seed = randomBytes(32);
  const secret = zk.ServerSecretParams.generateWithRandom(seed);
  const secretHex = hex(secret.serialize());
  const r = randomBytes(32);
  const R = ['--random', hex(r)];

  const msg = randomBytes(33);
  assert.equal(cli(...R, 'sign', secretHex, hex(msg)), hex(secret.signWithRandom(r, msg).serialize()));

  const aci = Aci.fromUuid(randomUUID());
  const pni = Pni.fromUuid(randomUUID());
  const t = today();
  const theirsAuth = new zk.ServerZkAuthOperations(secret).issueAuthCredentialWithPniZkcWithRandom(r, aci, pni, t);
  assert.equal(cli(...R, 'issue-auth', secretHex, aci.getRawUuid(), pni.getRawUuid(), t), hex(theirsAuth.serialize()));

  const expiration = today() + 2 * DAY;
  const keyPair = zk.GroupSendDerivedKeyPair.forExpiration(new Date(expiration * 1000), secret);
  assert.equal(cli('derived-key', secretHex, expiration), hex(keyPair.serialize()));
  const group = zk.GroupSecretParams.generate();
  const cipher = new zk.ClientZkGroupCipher(group);
  const cts = [0, 1, 2, 3, 4].map(() => cipher.encryptServiceId(Aci.fromUuid(randomUUID())));
  const theirsEnd = zk.GroupSendEndorsementsResponse.issueWithRandom(cts, keyPair, r);
  assert.equal(cli(...R, 'issue-endorsements', secretHex, expiration, cts.map((c) => hex(c.serialize())).join(',')), hex(theirsEnd.serialize()));

  const profileKey = new zk.ProfileKey(randomBytes(32));
  const ctx = new zk.ClientZkProfileOperations(secret.getPublicParams()).createProfileKeyCredentialRequestContext(aci, profileKey);
  const commitment = profileKey.getCommitment(aci);
  const exp = today() + 7 * DAY;
  const theirsProfile = new zk.ServerZkProfileOperations(secret).issueExpiringProfileKeyCredentialWithRandom(r, ctx.getRequest(), aci, commitment, exp);
  assert.equal(cli(...R, 'issue-profile', secretHex, hex(ctx.getRequest().serialize()), aci.getRawUuid(), hex(commitment.serialize()), exp), hex(theirsProfile.serialize()));
});

test('presentations of libsignal-issued profile key credentials verify with our code', () => {
  const secret = zk.ServerSecretParams.generate();
  const aci = Aci.fromUuid(randomUUID());
  const profileKey = new zk.ProfileKey(randomBytes(32));
  const client = new zk.ClientZkProfileOperations(secret.getPublicParams());
  const ctx = client.createProfileKeyCredentialRequestContext(aci, profileKey);
  const exp = today() + 7 * DAY;
  const resp = new zk.ServerZkProfileOperations(secret).issueExpiringProfileKeyCredential(ctx.getRequest(), aci, profileKey.getCommitment(aci), exp);
  const cred = client.receiveExpiringProfileKeyCredential(ctx, resp);
  const group = zk.GroupSecretParams.generate();
  const pres = client.createExpiringProfileKeyCredentialPresentation(group, cred);
  const now = Math.floor(Date.now() / 1000);
  assert.ok(cliOk('verify-profile', hex(secret.serialize()), hex(group.getPublicParams().serialize()), hex(pres.serialize()), now));
});

test('auth credential without PNI: same bytes as libsignal, received and presented', () => {
  const secret = zk.ServerSecretParams.generate();
  const secretHex = hex(secret.serialize());
  const aci = Aci.fromUuid(randomUUID());
  const salt = randomBytes(32);
  const t = today();
  const r = randomBytes(32);
  const theirs = new zk.ServerZkAuthOperations(secret).issueAuthCredentialZkcWithoutPniWithRandom(r, aci, salt, t);
  const ours = cli('--random', hex(r), 'issue-auth-no-pni', secretHex, aci.getRawUuid(), hex(salt), t);
  assert.equal(ours, hex(theirs.serialize()));
  const client = new zk.ClientZkAuthOperations(secret.getPublicParams());
  const fresh = cli('issue-auth-no-pni', secretHex, aci.getRawUuid(), hex(salt), t);
  const cred = client.receiveAuthCredentialWithoutPni(aci, salt, t, new zk.AuthCredentialWithPniResponse(unhex(fresh)));
  assert.throws(() => client.receiveAuthCredentialWithoutPni(aci, randomBytes(32), t, new zk.AuthCredentialWithPniResponse(unhex(fresh))));
  const group = zk.GroupSecretParams.generate();
  const pres = client.createAuthCredentialWithPniPresentation(group, cred);
  assert.ok(cliOk('verify-auth', secretHex, hex(group.getPublicParams().serialize()), hex(pres.serialize()), Math.floor(Date.now() / 1000)));
});

// Usernames: libsignal's `usernames` API against our username_hash / verify_username_proof.

const NICK_FIRST = '_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const NICK_REST = NICK_FIRST + '0123456789';
const pick = (chars) => chars[randomBytes(1)[0] % chars.length];

/** A random valid username: 1..48 nickname characters, discriminators from 01 to 2^64-1. */
function randomUsername() {
  const len = 1 + (randomBytes(1)[0] % 48);
  let nick = pick(NICK_FIRST);
  for (let i = 1; i < len; i++) nick += pick(NICK_REST);
  const kind = randomBytes(1)[0] % 3;
  const disc =
    kind === 0
      ? String(1 + (randomBytes(1)[0] % 99)).padStart(2, '0')
      : kind === 1
        ? String(100 + randomBytes(4).readUInt32BE() % 999_999_900)
        : String((randomBytes(8).readBigUInt64BE() % (2n ** 64n - 100n)) + 100n);
  return `${nick}.${disc}`;
}

/** Our error text for each libsignal username error code. */
const OUR_REASON = {
  [ErrorCode.MissingSeparator]: "must contain a '.'",
  [ErrorCode.NicknameCannotBeEmpty]: 'nickname cannot be empty',
  [ErrorCode.CannotStartWithDigit]: 'cannot start with a digit',
  [ErrorCode.BadNicknameCharacter]: 'nickname contains a disallowed character',
  [ErrorCode.NicknameTooLong]: 'nickname is too long',
  [ErrorCode.DiscriminatorCannotBeEmpty]: 'discriminator cannot be empty',
  [ErrorCode.DiscriminatorCannotBeZero]: 'discriminator cannot be zero',
  [ErrorCode.DiscriminatorCannotBeSingleDigit]: 'cannot be a single digit',
  [ErrorCode.DiscriminatorCannotHaveLeadingZeros]: 'cannot have leading zeros',
  [ErrorCode.BadDiscriminatorCharacter]: 'must only be made up of digits',
  [ErrorCode.DiscriminatorTooLarge]: 'too large',
};

test('username hashes: ours equal usernames.hash; invalid usernames refused for the same reason', () => {
  const names = ['he110.42', 'HE110.42', 'jimio.01', `jimio.${2n ** 64n - 1n}`];
  for (let i = 0; i < 40; i++) names.push(randomUsername());
  for (const name of names) {
    assert.equal(cli('username-hash', name), hex(usernames.hash(name)), name);
  }
  const invalid = ['nodot', '.42', '9lives.42', 'emoji🦀.42', 'a b.42', 'a.b.42', `${'a'.repeat(49)}.42`,
    'ehren.', 'ehren.00', 'ehren.1', 'ehren.012', 'ehren.+12', 'ehren.1x', `ehren.${2n ** 64n}`];
  for (const name of invalid) {
    let code;
    try {
      usernames.hash(name);
    } catch (e) {
      code = e.code;
    }
    assert.ok(code !== undefined, `libsignal accepted ${name}`);
    assert.throws(() => cli('username-hash', name), (e) => String(e.stderr).includes(OUR_REASON[code]), name);
  }
});

test('libsignal username proofs verify with us, only for their own hash, and not when tampered', () => {
  for (let i = 0; i < 12; i++) {
    const name = randomUsername();
    const hash = usernames.hash(name);
    const proof = usernames.generateProof(name);
    assert.ok(cliOk('verify-username', hex(proof), hex(hash)), name);
    assert.ok(!cliOk('verify-username', hex(proof), hex(usernames.hash(randomUsername()))));
    const tampered = Buffer.from(proof);
    tampered[randomBytes(1)[0] % tampered.length] ^= 1 + (randomBytes(1)[0] % 255);
    assert.ok(!cliOk('verify-username', hex(tampered), hex(hash)));
    assert.ok(!cliOk('verify-username', hex(proof), hex(hash.subarray(1))));
  }
});

test('our username proofs verify in libsignal; same randomness, same bytes as generateProofWithRandom', () => {
  for (let i = 0; i < 8; i++) {
    const name = randomUsername();
    const hash = unhex(cli('username-hash', name));
    const ours = unhex(cli('username-proof', name));
    usernames.verifyProof(ours, hash);
    assert.throws(() => usernames.verifyProof(ours, usernames.hash(randomUsername())));
    const r = randomBytes(32);
    assert.equal(cli('--random', hex(r), 'username-proof', name), hex(usernames.generateProofWithRandom(name, r)), name);
  }
});
