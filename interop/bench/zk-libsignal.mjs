// libsignal's cost for the operations crates/zk/benches/zk.rs measures, through its Node
// binding, for a side-by-side figure in docs/zk.md. Run: `cd interop && node bench/zk-libsignal.mjs`.
import { randomUUID } from 'node:crypto';
import { Aci, Pni, usernames } from '@signalapp/libsignal-client';
import * as zk from '@signalapp/libsignal-client/zkgroup.js';

function bench(name, iters, fn) {
  const rounds = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - t0) / iters / 1000);
  }
  rounds.sort((a, b) => a - b);
  console.log(`${name.padEnd(48)} ${rounds[3].toFixed(1).padStart(10)} µs (median of 7)`);
}

const secret = zk.ServerSecretParams.generate();
const bytes = secret.serialize();
const day = 86400;
const t = Math.floor(Date.now() / 1000 / day) * day;
const aci = Aci.fromUuid(randomUUID());
const pni = Pni.fromUuid(randomUUID());
const auth = new zk.ServerZkAuthOperations(secret);

bench('ServerSecretParams::deserialize', 50, () => new zk.ServerSecretParams(bytes));
bench('issue_auth_credential_with_pni_zkc', 50, () => auth.issueAuthCredentialWithPniZkc(aci, pni, t));
bench('GroupSendDerivedKeyPair::for_expiration', 200, () => zk.GroupSendDerivedKeyPair.forExpiration(new Date((t + 2 * day) * 1000), secret));
const kp = zk.GroupSendDerivedKeyPair.forExpiration(new Date((t + 2 * day) * 1000), secret);
const group = zk.GroupSecretParams.generate();
const cipher = new zk.ClientZkGroupCipher(group);
for (const n of [10, 100]) {
  const members = Array.from({ length: n }, () => Aci.fromUuid(randomUUID()));
  const cts = members.map((m) => cipher.encryptServiceId(m));
  bench(`GroupSendEndorsementsResponse::issue/${n}`, 5, () => zk.GroupSendEndorsementsResponse.issue(cts, kp));
}
const members = [aci, ...Array.from({ length: 10 }, () => Aci.fromUuid(randomUUID()))];
const response = zk.GroupSendEndorsementsResponse.issue(members.map((m) => cipher.encryptServiceId(m)), kp);
const received = response.receiveWithServiceIds(members, aci, group, secret.getPublicParams());
const token = received.combinedEndorsement.toFullToken(group, response.getExpiration());
const others = members.slice(1);
bench('GroupSendFullToken::verify (10 members)', 100, () => token.verify(others, kp));
const username = 'hello_signal.42';
const usernameHash = usernames.hash(username);
const usernameProof = usernames.generateProof(username);
bench('verify_username_proof', 500, () => usernames.verifyProof(usernameProof, usernameHash));
bench('username_hash', 500, () => usernames.hash(username));
