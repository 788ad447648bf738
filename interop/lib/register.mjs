// Register accounts, two ways:
//
//  1. registerTyped(): libsignal's own typed registration API
//     (net.createRegistrationSession → submitCaptcha → requestVerification → verifySession →
//      registerAccount). libsignal opens its own unauthenticated chat socket for this.
//  2. registerRaw(): the same REST calls by hand through chat.fetch on an unauthenticated socket.
//
// Both need the server's test-mode behaviour: captcha `noop.noop.registration.noop` satisfies the
// session, and any verification code is accepted.
import assert from 'node:assert/strict';
import { Net as NetNs } from '@signalapp/libsignal-client';
import { Device, DEFAULT_CAPABILITIES } from './device.mjs';
import { basicAuth, call, b64url } from './http.mjs';
import { connectUnauth } from './net.mjs';

export const SESSION_ID_CHARS = /^[A-Za-z0-9\-_.~!$&,()*+;=:@]+$/;
export const TEST_CAPTCHA = 'noop.noop.registration.noop';
// Heliograph accepts any code in test mode; Signal's mock server (harness validation) wants 111111.
export const TEST_CODE = '111111';
// 'android' is accepted by Heliograph (any string) and by Signal's mock server (desktop|ios|android).
export const TEST_CLIENT = 'android';

/**
 * Register `device` with libsignal's typed RegistrationService. Returns {device, response,
 * sessionId}. The RegistrationService itself is deliberately not returned: it owns a chat
 * connection with no disconnect(), and must be garbage-collected before exit (see native.mjs).
 */
export async function registerTyped(net, device = new Device()) {
  const service = await net.createRegistrationSession({ e164: device.e164 });
  assert.ok(service.sessionId, 'registration session has an id');
  const state0 = service.sessionState;
  assert.equal(state0.verified, false, 'new session is not verified');
  const captcha = await service.submitCaptcha(TEST_CAPTCHA);
  assert.equal(captcha.allowedToRequestCode, true, `captcha did not make the session allowed to request a code (state ${JSON.stringify(stateJson(service.sessionState))})`);
  await service.requestVerification({ transport: 'sms', client: TEST_CLIENT, languages: ['en-US'] });
  const verified = await service.verifySession(TEST_CODE);
  assert.equal(verified, true, 'verifySession returned false');

  const a = device.aciKeys.ensureBaseKeys();
  const p = device.pniKeys.ensureBaseKeys();
  const response = await service.registerAccount({
    accountPassword: device.password,
    skipDeviceTransfer: true,
    accountAttributes: new NetNs.AccountAttributes({
      recoveryPassword: device.recoveryPassword,
      aciRegistrationId: a.registrationId,
      pniRegistrationId: p.registrationId,
      registrationLock: null,
      unidentifiedAccessKey: device.unidentifiedAccessKey,
      unrestrictedUnidentifiedAccess: false,
      capabilities: new Set(Object.keys(DEFAULT_CAPABILITIES)),
      discoverableByPhoneNumber: true,
    }),
    aciPublicKey: a.publicKey,
    pniPublicKey: p.publicKey,
    aciSignedPreKey: a.signedPreKey,       // SignedPreKeyRecord satisfies SignedPublicPreKey
    pniSignedPreKey: p.signedPreKey,
    aciPqLastResortPreKey: a.lastResort,   // KyberPreKeyRecord satisfies SignedKyberPublicPreKey
    pniPqLastResortPreKey: p.lastResort,
  });
  device.setRegistered({ aci: response.aci.getRawUuid(), pni: response.pni?.getRawUuid() });
  return { device, response, sessionId: service.sessionId };
}

function stateJson(s) { return { ...s, requestedInformation: [...(s.requestedInformation ?? [])] }; }

/**
 * Register `device` with raw REST calls on an unauthenticated socket (`chat` given, or opened
 * from `net`). Returns {device, response (JSON of POST /v1/registration), sessionId}.
 */
export async function registerRaw(netOrChat, device = new Device(), { uakEncoding = 'base64' } = {}) {
  let chat = netOrChat; let own = false;
  if (typeof netOrChat.connectUnauthenticatedChat === 'function') { chat = (await connectUnauth(netOrChat)).chat; own = true; }
  try {
    const s1 = (await call(chat, 'POST', '/v1/verification/session', 200, { json: { number: device.e164 } })).json;
    assert.equal(typeof s1.id, 'string', 'session has a string id');
    // libsignal rejects session ids outside this set (InvalidSessionId) and puts them in the path
    // unencoded; the contract says URL-safe base64 with padding.
    assert.match(s1.id, SESSION_ID_CHARS, `session id ${s1.id} has characters libsignal refuses`);
    assert.equal(s1.verified, false);
    assert.ok(Array.isArray(s1.requestedInformation), 'requestedInformation is an array');
    const id = s1.id;
    const s2 = (await call(chat, 'PATCH', `/v1/verification/session/${id}`, 200, { json: { captcha: TEST_CAPTCHA } })).json;
    assert.equal(s2.allowedToRequestCode, true, `captcha accepted: ${JSON.stringify(s2)}`);
    await call(chat, 'POST', `/v1/verification/session/${id}/code`, 200, { json: { transport: 'sms', client: TEST_CLIENT } });
    const s4 = (await call(chat, 'PUT', `/v1/verification/session/${id}/code`, 200, { json: { code: TEST_CODE } })).json;
    assert.equal(s4.verified, true, `session verified: ${JSON.stringify(s4)}`);
    const res = await call(chat, 'POST', '/v1/registration', 200, {
      json: device.registrationJson(s1.id, { uakEncoding }),
      auth: basicAuth(device.e164, device.password),
    });
    const r = res.json;
    assert.equal(r.number, device.e164);
    device.setRegistered({ aci: r.uuid, pni: r.pni });
    return { device, response: r, sessionId: s1.id };
  } finally {
    if (own) await chat.disconnect();
  }
}

/** A verified session id (raw REST), for tests that need to send their own /v1/registration. */
export async function verifiedSession(chat, e164) {
  const s = (await call(chat, 'POST', '/v1/verification/session', 200, { json: { number: e164 } })).json;
  const id = s.id;
  await call(chat, 'PATCH', `/v1/verification/session/${id}`, 200, { json: { captcha: TEST_CAPTCHA } });
  await call(chat, 'POST', `/v1/verification/session/${id}/code`, 200, { json: { transport: 'sms', client: TEST_CLIENT } });
  await call(chat, 'PUT', `/v1/verification/session/${id}/code`, 200, { json: { code: TEST_CODE } });
  return s.id;
}

export { b64url };
