// Shared set-up for messaging tests: register accounts with keys, connect them, fetch bundles.
import assert from 'node:assert/strict';
import { SenderCertificate } from '@signalapp/libsignal-client';
import { Device, ServiceIdKind } from './device.mjs';
import { registerTyped } from './register.mjs';
import { call, unb64 } from './http.mjs';
import { connectAuth, RecordingListener } from './net.mjs';

/**
 * Register a fresh account (typed registration) and upload one-time keys for its ACI (and PNI if
 * asked) over a short-lived authenticated socket. Returns the Device.
 */
export async function registerWithKeys(net, label, { oneTimeEc = 10, oneTimeKem = 10, pni = false, putKeysOk = 204 } = {}) {
  const d = new Device({ label });
  await registerTyped(net, d);
  const c = await connectAuth(net, d.account);
  try {
    await call(c.chat, 'PUT', '/v2/keys', putKeysOk, { json: d.keysUploadJson(ServiceIdKind.Aci, { oneTimeEc, oneTimeKem }) });
    if (pni) await call(c.chat, 'PUT', '/v2/keys?identity=pni', putKeysOk, { json: d.keysUploadJson(ServiceIdKind.Pni, { oneTimeEc, oneTimeKem }) });
  } finally {
    await c.chat.disconnect();
  }
  return d;
}

/** Open an authenticated socket for `device`; returns {device, chat, listener}. */
export async function connectDevice(net, device, { receiveStories = false, listener = new RecordingListener() } = {}) {
  const { chat } = await connectAuth(net, device.account, { receiveStories, listener });
  return { device, chat, listener };
}

/** Fetch `target`'s device-1 ACI bundle with the typed getPreKeys (access key) and process it. */
export async function establishSession(unauth, from, target, deviceId = 1) {
  const keys = await unauth.getPreKeys({ target: target.aciServiceId, device: { deviceId }, auth: { accessKey: target.unidentifiedAccessKey } });
  assert.equal(keys.preKeyBundles.length, 1, 'one bundle');
  await from.processBundle(keys.preKeyBundles[0], target.address());
  return keys.preKeyBundles[0];
}

/** The sender certificate of the authenticated socket's account, validated against the trust root. */
export async function deliveryCertificate(chat, trustRoot) {
  const res = await call(chat, 'GET', '/v1/certificate/delivery', 200);
  const cert = SenderCertificate.deserialize(unb64(res.json.certificate));
  assert.ok(cert.validate(trustRoot, Date.now()), 'sender certificate chains to the server trust root');
  return cert;
}

let lastTs = Date.now();
/** A strictly increasing client timestamp, unique within this process. */
export function uniqueTs() { lastTs = Math.max(lastTs + 1, Date.now()); return lastTs; }
