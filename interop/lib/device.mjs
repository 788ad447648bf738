// A test "device": in-memory libsignal stores, key generation for ACI and PNI identities, the
// JSON a client uploads, bundle processing, 1:1 and sealed-sender encrypt/decrypt.
//
// Everything crypto is Signal's libsignal; this file only keeps state and shapes JSON.
import { randomBytes, randomInt } from 'node:crypto';
import * as S from '@signalapp/libsignal-client';
import * as zk from '@signalapp/libsignal-client/zkgroup.js';
import { b64, unb64 } from './http.mjs';

const {
  IdentityKeyPair, PrivateKey, PublicKey, KEMKeyPair, KEMPublicKey,
  PreKeyRecord, SignedPreKeyRecord, KyberPreKeyRecord, PreKeyBundle,
  ProtocolAddress, Aci, Pni, ServiceId, ServiceIdKind,
  SessionStore, IdentityKeyStore, PreKeyStore, SignedPreKeyStore, KyberPreKeyStore, SenderKeyStore,
  IdentityChange, CiphertextMessageType, PreKeySignalMessage, SignalMessage,
  SessionRecord, SenderKeyRecord,
} = S;

// ---------------------------------------------------------------- in-memory stores
export class MemSessionStore extends SessionStore {
  sessions = new Map();
  async saveSession(addr, record) { this.sessions.set(addr.toString(), record.serialize()); }
  async getSession(addr) {
    const s = this.sessions.get(addr.toString());
    return s ? SessionRecord.deserialize(s) : null;
  }
  async getExistingSessions(addrs) {
    return addrs.map((a) => {
      const s = this.sessions.get(a.toString());
      if (!s) throw new Error(`no session for ${a}`);
      return SessionRecord.deserialize(s);
    });
  }
}

export class MemIdentityStore extends IdentityKeyStore {
  known = new Map();
  constructor(identityKeyPair, registrationId) { super(); this.ikp = identityKeyPair; this.regId = registrationId; }
  async getIdentityKey() { return this.ikp.privateKey; }
  async getLocalRegistrationId() { return this.regId; }
  async saveIdentity(addr, key) {
    const prev = this.known.get(addr.name());
    this.known.set(addr.name(), key.serialize());
    return prev && Buffer.compare(Buffer.from(prev), Buffer.from(key.serialize())) !== 0
      ? IdentityChange.ReplacedExisting : IdentityChange.NewOrUnchanged;
  }
  async isTrustedIdentity(addr, key) { // trust on first use
    const prev = this.known.get(addr.name());
    return !prev || Buffer.compare(Buffer.from(prev), Buffer.from(key.serialize())) === 0;
  }
  async getIdentity(addr) {
    const k = this.known.get(addr.name());
    return k ? PublicKey.deserialize(k) : null;
  }
}

export class MemPreKeyStore extends PreKeyStore {
  m = new Map(); removed = [];
  async savePreKey(id, r) { this.m.set(id, r.serialize()); }
  async getPreKey(id) { const r = this.m.get(id); if (!r) throw new Error(`no prekey ${id}`); return PreKeyRecord.deserialize(r); }
  async removePreKey(id) { this.m.delete(id); this.removed.push(id); }
}

export class MemSignedPreKeyStore extends SignedPreKeyStore {
  m = new Map();
  async saveSignedPreKey(id, r) { this.m.set(id, r.serialize()); }
  async getSignedPreKey(id) { const r = this.m.get(id); if (!r) throw new Error(`no signed prekey ${id}`); return SignedPreKeyRecord.deserialize(r); }
}

export class MemKyberPreKeyStore extends KyberPreKeyStore {
  m = new Map(); used = [];
  async saveKyberPreKey(id, r) { this.m.set(id, r.serialize()); }
  async getKyberPreKey(id) { const r = this.m.get(id); if (!r) throw new Error(`no kyber prekey ${id}`); return KyberPreKeyRecord.deserialize(r); }
  async markKyberPreKeyUsed(id, signedPreKeyId, baseKey) { this.used.push({ id, signedPreKeyId, baseKey: b64(baseKey.serialize()) }); }
}

export class MemSenderKeyStore extends SenderKeyStore {
  m = new Map();
  async saveSenderKey(sender, distId, rec) { this.m.set(`${sender.toString()}:${distId}`, rec.serialize()); }
  async getSenderKey(sender, distId) { const r = this.m.get(`${sender.toString()}:${distId}`); return r ? SenderKeyRecord.deserialize(r) : null; }
}

// ---------------------------------------------------------------- key material per identity
/** Keys and stores for one identity (ACI or PNI) of one device. */
export class IdentityKeys {
  constructor(kind, identity = IdentityKeyPair.generate(), registrationId = randomRegistrationId()) {
    this.kind = kind; // ServiceIdKind.Aci | ServiceIdKind.Pni
    this.identity = identity;
    this.registrationId = registrationId;
    this.sessions = new MemSessionStore();
    this.identities = new MemIdentityStore(identity, registrationId);
    this.preKeys = new MemPreKeyStore();
    this.signedPreKeys = new MemSignedPreKeyStore();
    this.kyberPreKeys = new MemKyberPreKeyStore();
    this.senderKeys = new MemSenderKeyStore();
    // key ids: distinct ranges so a wrong id in a bundle is visible in failures
    this.nextEcId = kind === ServiceIdKind.Pni ? 5001 : 1001;
    this.nextKemId = kind === ServiceIdKind.Pni ? 7001 : 3001;
    this.nextSignedId = kind === ServiceIdKind.Pni ? 501 : 101;
    this.signedPreKey = null; // SignedPreKeyRecord (current)
    this.lastResort = null;   // KyberPreKeyRecord (current last-resort)
  }
  get publicKey() { return this.identity.publicKey; }

  sign(bytes) { return this.identity.privateKey.sign(bytes); }

  newSignedPreKey() {
    const id = this.nextSignedId++;
    const priv = PrivateKey.generate();
    const pub = priv.getPublicKey();
    const rec = SignedPreKeyRecord.new(id, Date.now(), pub, priv, this.sign(pub.serialize()));
    this.signedPreKeys.m.set(id, rec.serialize());
    this.signedPreKey = rec;
    return rec;
  }
  newKyberPreKey() {
    const id = this.nextKemId++;
    const kp = KEMKeyPair.generate();
    const rec = KyberPreKeyRecord.new(id, Date.now(), kp, this.sign(kp.getPublicKey().serialize()));
    this.kyberPreKeys.m.set(id, rec.serialize());
    return rec;
  }
  newLastResort() { this.lastResort = this.newKyberPreKey(); return this.lastResort; }
  newOneTimeEc(n) {
    const out = [];
    for (let i = 0; i < n; i++) {
      const id = this.nextEcId++;
      const priv = PrivateKey.generate();
      const rec = PreKeyRecord.new(id, priv.getPublicKey(), priv);
      this.preKeys.m.set(id, rec.serialize());
      out.push(rec);
    }
    return out;
  }
  newOneTimeKem(n) { return Array.from({ length: n }, () => this.newKyberPreKey()); }

  /** Make sure a signed prekey and a last-resort Kyber key exist (as at registration). */
  ensureBaseKeys() {
    if (!this.signedPreKey) this.newSignedPreKey();
    if (!this.lastResort) this.newLastResort();
    return this;
  }
}

export function randomRegistrationId() { return randomInt(1, 0x3fff + 1); } // 14 bits, non-zero

// JSON shapes (server contract §4): keys are standard base64 with padding; signatures too (the
// server reads them leniently, padding optional).
export const ecPreKeyJson = (rec) => ({ keyId: rec.id(), publicKey: b64(rec.publicKey().serialize()) });
export const signedPreKeyJson = (rec) => ({ keyId: rec.id(), publicKey: b64(rec.publicKey().serialize()), signature: b64(rec.signature()) });
export const kemPreKeyJson = (rec) => ({ keyId: rec.id(), publicKey: b64(rec.publicKey().serialize()), signature: b64(rec.signature()) });

// Shapes for libsignal's typed gRPC key APIs (AuthKeysService).
export const ecPreKeyTyped = (rec) => ({ keyId: rec.id(), publicKey: rec.publicKey() });
export const signedPreKeyTyped = (rec) => ({ keyId: rec.id(), publicKey: rec.publicKey(), signature: rec.signature() });
export const kemPreKeyTyped = (rec) => ({ keyId: rec.id(), publicKey: rec.publicKey(), signature: rec.signature() });

/** A PreKeyBundle from one device entry of the `GET /v2/keys/...` JSON. */
export function bundleFromJson(identityKeyB64, dev) {
  if (!dev.pqPreKey) throw new Error(`device ${dev.deviceId} has no pqPreKey (mandatory in libsignal 0.103)`);
  return PreKeyBundle.new(
    dev.registrationId, dev.deviceId,
    dev.preKey ? dev.preKey.keyId : null,
    dev.preKey ? PublicKey.deserialize(unb64(dev.preKey.publicKey)) : null,
    dev.signedPreKey.keyId, PublicKey.deserialize(unb64(dev.signedPreKey.publicKey)), unb64(dev.signedPreKey.signature),
    PublicKey.deserialize(unb64(identityKeyB64)),
    dev.pqPreKey.keyId, KEMPublicKey.deserialize(unb64(dev.pqPreKey.publicKey)), unb64(dev.pqPreKey.signature),
  );
}

// ---------------------------------------------------------------- the device
export const DEFAULT_CAPABILITIES = { spqr: true, attachmentBackfill: true, usernameChangeSyncMessage: true };

export class Device {
  constructor({ label = 'device', e164 = randomE164(), deviceId = 1, password } = {}) {
    this.label = label;
    this.e164 = e164;
    this.deviceId = deviceId;
    this.password = password ?? randomBytes(18).toString('base64url');
    this.aci = null; // string uuid, set after registration
    this.pni = null; // string uuid (no prefix), set after registration
    this.keys = {
      [ServiceIdKind.Aci]: new IdentityKeys(ServiceIdKind.Aci),
      [ServiceIdKind.Pni]: new IdentityKeys(ServiceIdKind.Pni),
    };
    this.profileKey = new zk.ProfileKey(new Uint8Array(randomBytes(32)));
    this.unidentifiedAccessKey = this.profileKey.deriveAccessKey(); // 16 bytes
    this.recoveryPassword = new Uint8Array(randomBytes(32));
  }
  get aciKeys() { return this.keys[ServiceIdKind.Aci]; }
  get pniKeys() { return this.keys[ServiceIdKind.Pni]; }
  get aciServiceId() { return Aci.fromUuid(this.aci); }
  get pniServiceId() { return Pni.fromUuid(this.pni); }
  /** For connectAuthenticatedChat / connectAuth. */
  get account() { return { aci: this.aci, deviceId: this.deviceId, password: this.password }; }
  get username() { return `${this.aci}.${this.deviceId}`; }
  address(kind = ServiceIdKind.Aci) {
    return ProtocolAddress.new(kind === ServiceIdKind.Pni ? this.pniServiceId : this.aciServiceId, this.deviceId);
  }
  setRegistered({ aci, pni }) { this.aci = aci; this.pni = pni?.replace(/^PNI:/, '') ?? null; return this; }

  /** The JSON body of `POST /v1/registration` (server contract §1.2). */
  registrationJson(sessionId, { capabilities = DEFAULT_CAPABILITIES, uakEncoding = 'base64' } = {}) {
    const a = this.aciKeys.ensureBaseKeys();
    const p = this.pniKeys.ensureBaseKeys();
    return {
      sessionId,
      accountAttributes: this.accountAttributesJson({ capabilities, uakEncoding }),
      skipDeviceTransfer: true,
      aciIdentityKey: b64(a.publicKey.serialize()),
      pniIdentityKey: b64(p.publicKey.serialize()),
      aciSignedPreKey: signedPreKeyJson(a.signedPreKey),
      pniSignedPreKey: signedPreKeyJson(p.signedPreKey),
      aciPqLastResortPreKey: kemPreKeyJson(a.lastResort),
      pniPqLastResortPreKey: kemPreKeyJson(p.lastResort),
    };
  }
  /**
   * `uakEncoding`: 'base64' (what Signal-Android's Jackson sends) or 'array' (what libsignal's typed
   * registerAccount sends: a JSON array of 16 numbers). A server must accept both.
   */
  accountAttributesJson({ capabilities = DEFAULT_CAPABILITIES, uakEncoding = 'base64' } = {}) {
    return {
      fetchesMessages: true,
      registrationId: this.aciKeys.registrationId,
      pniRegistrationId: this.pniKeys.registrationId,
      capabilities,
      unidentifiedAccessKey: uakEncoding === 'array' ? [...this.unidentifiedAccessKey] : b64(this.unidentifiedAccessKey),
      unrestrictedUnidentifiedAccess: false,
      discoverableByPhoneNumber: true,
      recoveryPassword: b64(this.recoveryPassword),
    };
  }

  /**
   * Generate fresh keys for `PUT /v2/keys[?identity=pni]` and return the JSON body.
   * Options: oneTimeEc (count), oneTimeKem (count), signed (bool), lastResort (bool).
   */
  keysUploadJson(kind = ServiceIdKind.Aci, { oneTimeEc = 0, oneTimeKem = 0, signed = false, lastResort = false } = {}) {
    const k = this.keys[kind];
    const body = {};
    if (oneTimeEc) body.preKeys = k.newOneTimeEc(oneTimeEc).map(ecPreKeyJson);
    if (oneTimeKem) body.pqPreKeys = k.newOneTimeKem(oneTimeKem).map(kemPreKeyJson);
    if (signed) body.signedPreKey = signedPreKeyJson(k.newSignedPreKey());
    if (lastResort) body.pqLastResortPreKey = kemPreKeyJson(k.newLastResort());
    return body;
  }

  // ------------------------------------------------------------ sessions and messages
  /** Process a bundle for `remote` (ProtocolAddress) using our identity `kind`. */
  async processBundle(bundle, remote, kind = ServiceIdKind.Aci) {
    const k = this.keys[kind];
    await S.processPreKeyBundle(bundle, remote, this.address(kind), k.sessions, k.identities);
  }
  async encrypt(plaintext, remote, kind = ServiceIdKind.Aci) {
    const k = this.keys[kind];
    const pt = typeof plaintext === 'string' ? new Uint8Array(Buffer.from(plaintext)) : plaintext;
    return S.signalEncrypt(pt, remote, this.address(kind), k.sessions, k.identities);
  }
  /** Decrypt a 1:1 message (type 3 PreKey or 2 Whisper) addressed to our identity `kind`. */
  async decrypt(sender, type, body, kind = ServiceIdKind.Aci) {
    const k = this.keys[kind];
    if (type === CiphertextMessageType.PreKey) {
      return S.signalDecryptPreKey(PreKeySignalMessage.deserialize(body), sender, this.address(kind),
        k.sessions, k.identities, k.preKeys, k.signedPreKeys, k.kyberPreKeys);
    }
    if (type === CiphertextMessageType.Whisper) {
      return S.signalDecrypt(SignalMessage.deserialize(body), sender, this.address(kind), k.sessions, k.identities);
    }
    throw new Error(`cannot decrypt ciphertext type ${type}`);
  }
  async sealedEncrypt(plaintext, remote, senderCert) {
    const k = this.aciKeys;
    const pt = typeof plaintext === 'string' ? new Uint8Array(Buffer.from(plaintext)) : plaintext;
    return S.sealedSenderEncryptMessage(pt, remote, senderCert, k.sessions, k.identities);
  }
  async sealedDecrypt(message, trustRoot, now = Date.now()) {
    const k = this.aciKeys;
    return S.sealedSenderDecryptMessage(message, trustRoot, now, this.e164 ?? null, this.aci, this.deviceId,
      k.sessions, k.identities, k.preKeys, k.signedPreKeys, k.kyberPreKeys);
  }
}

/** `+1555` followed by 7 random digits: unique per test run with overwhelming probability. */
export function randomE164() {
  return `+1555${String(randomInt(0, 10_000_000)).padStart(7, '0')}`;
}

export { ServiceIdKind, Aci, Pni, ServiceId, ProtocolAddress, CiphertextMessageType };
