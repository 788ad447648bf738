// Regenerates the constants of username_vectors.rs with @signalapp/libsignal-client@0.103.0.
// ES modules resolve packages next to the script, so run it from a directory whose
// node_modules holds the package, e.g.:
//   mkdir -p /tmp/gen && ln -sfn "$PWD/interop/node_modules" /tmp/gen/node_modules &&
//   cp crates/zk/tests/gen_username_vectors.mjs /tmp/gen/ && node /tmp/gen/gen_username_vectors.mjs
import { usernames, ErrorCode } from '@signalapp/libsignal-client';

const arr = (start, n = 32) => Buffer.from(Array.from({ length: n }, (_, i) => (start + i) & 0xff));
const hex = (b) => Buffer.from(b).toString('hex');

const valid = [
  'he110.42',
  'He110.01',
  'HE110.42',
  'usr.999999999',
  '_identifier.42',
  'LOUD.700',
  'a.10',
  '_.99',
  `jimio.${2n ** 64n - 1n}`,
  'ab_C9.42',
  `${'z'.repeat(48)}.01`,
  `_${'9'.repeat(47)}.12345`,
];
const invalid = [
  'no_discriminator',
  '.42',
  '0zerostart.42',
  '🦀.42',
  's p a c e s.01',
  'a.b.42',
  `${'a'.repeat(49)}.42`,
  'ehren.',
  'zero.00',
  'zero.0',
  'zeropad.001',
  'short.1',
  'ehren.+12',
  'ehren.-01',
  'ehren.1a',
  `jimio.${2n ** 64n}`,
  'b d.1',
];

const out = { HASHES: [], INVALID: [], PROOFS: [] };
for (const u of valid) out.HASHES.push([u, hex(usernames.hash(u))]);
for (const u of invalid) {
  try {
    usernames.hash(u);
    throw new Error(`${u} unexpectedly valid`);
  } catch (e) {
    if (e.code === undefined) throw e;
    out.INVALID.push([u, ErrorCode[e.code]]);
  }
}
for (const [u, start] of [['he110.42', 0], ['hello_signal.42', 1], ['LOUD.700', 200], [`jimio.${2n ** 64n - 1n}`, 100]]) {
  out.PROOFS.push([u, hex(arr(start)), hex(usernames.generateProofWithRandom(u, arr(start)))]);
}
console.log(JSON.stringify(out, null, 1));
