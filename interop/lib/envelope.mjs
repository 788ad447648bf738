// Minimal protobuf decoder for the server's `Envelope` (libsignal exposes no protobuf helpers).
// Field numbers from the server contract §6.1 (TextSecure.proto). Unknown fields are ignored.
import { Aci, ServiceId } from '@signalapp/libsignal-client';

export const EnvelopeType = { UNKNOWN: 0, CIPHERTEXT: 1, PREKEY_BUNDLE: 3, SERVER_DELIVERY_RECEIPT: 5, UNIDENTIFIED_SENDER: 6, PLAINTEXT_CONTENT: 8 };

function* fields(buf) {
  let i = 0;
  const varint = () => { let r = 0n, s = 0n, b; do { if (i >= buf.length) throw new Error('truncated varint'); b = buf[i++]; r |= BigInt(b & 0x7f) << s; s += 7n; } while (b & 0x80); return r; };
  while (i < buf.length) {
    const key = Number(varint()); const f = key >> 3; const wt = key & 7;
    if (wt === 0) yield [f, varint()];
    else if (wt === 2) { const len = Number(varint()); if (i + len > buf.length) throw new Error('truncated bytes'); yield [f, buf.subarray(i, i + len)]; i += len; }
    else if (wt === 1) { yield [f, buf.subarray(i, i + 8)]; i += 8; }
    else if (wt === 5) { yield [f, buf.subarray(i, i + 4)]; i += 4; }
    else throw new Error(`unsupported wire type ${wt}`);
  }
}

const uuidFromBytes = (b) => { const h = Buffer.from(b).toString('hex'); return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`; };
const serviceIdFromBinary = (b) => ServiceId.parseFromServiceIdBinary(new Uint8Array(b)).getServiceIdString();

/**
 * Decode an Envelope. Returns {type, clientTimestamp, sourceDevice, content, serverTimestamp,
 * ephemeral, urgent (default true), story, sourceServiceId, destinationServiceId, serverGuid,
 * updatedPni, reportSpamToken, legacy, binary} with service ids as strings (PNI with the `PNI:` prefix). Binary
 * fields 19-22 win over the legacy string fields 9/11/13/15 when both are present.
 */
export function decodeEnvelope(bytes) {
  const buf = Buffer.from(bytes);
  const e = { urgent: true, story: false, ephemeral: false };
  const legacy = {};
  const binary = {};
  for (const [f, v] of fields(buf)) {
    switch (f) {
      case 1: e.type = Number(v); break;
      case 5: e.clientTimestamp = Number(v); break;
      case 7: e.sourceDevice = Number(v); break;
      case 8: e.content = new Uint8Array(v); break;
      case 9: legacy.serverGuid = v.toString(); break;
      case 10: e.serverTimestamp = Number(v); break;
      case 11: legacy.sourceServiceId = v.toString(); break;
      case 12: e.ephemeral = v !== 0n; break;
      case 13: legacy.destinationServiceId = v.toString(); break;
      case 14: e.urgent = v !== 0n; break;
      case 15: legacy.updatedPni = v.toString(); break;
      case 16: e.story = v !== 0n; break;
      case 17: e.reportSpamToken = new Uint8Array(v); break;
      case 19: e.sourceServiceId = binary.sourceServiceId = serviceIdFromBinary(v); break;
      case 20: e.destinationServiceId = binary.destinationServiceId = serviceIdFromBinary(v); break;
      case 21: e.serverGuid = binary.serverGuid = uuidFromBytes(v); break;
      case 22: e.updatedPni = binary.updatedPni = uuidFromBytes(v); break;
      default: break;
    }
  }
  for (const k of Object.keys(legacy)) if (e[k] === undefined) e[k] = legacy[k];
  e.legacy = legacy; // the string forms 9/11/13/15 as sent
  e.binary = binary; // the binary forms 19-22 as sent (decoded to strings)
  return e;
}

export { Aci };
