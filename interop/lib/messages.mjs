// Sending 1:1 messages.
//
// libsignal 0.103's typed send APIs pick their transport from the connection:
//   over HTTP/1.1 → REST inside the websocket:
//     authenticated sendMessage / sendSyncMessage → PUT /v1/messages/{serviceId} (JSON, see below)
//     unauthenticated sendMessage                 → PUT /v1/messages/{serviceId} + unidentified-access-key
//   over HTTP/2 (localTestServer; remote config cannot change this) → gRPC:
//     sendMessage      → org.signal.chat.messages.Messages/SendMessage
//     sendSyncMessage  → org.signal.chat.messages.Messages/SendSyncMessage
//     unauth sendMessage → org.signal.chat.messages.MessagesAnonymous/SendSingleRecipientMessage
//     unauth sendMultiRecipientMessage with auth 'story' → MessagesAnonymous/SendMultiRecipientStory
// sendRest() sends exactly the JSON libsignal sends over HTTP/1.1, so REST can be tested on HTTP/2
// too (tunnelled in the HTTP/2 websocket), next to the typed gRPC path.
// sendMultiRecipientRest() sends the multi-recipient (SSv2) body libsignal sends over HTTP/1.1, but
// with an Unidentified-Access-Key (libsignal's typed API only knows 'story' and group send tokens).
import { CiphertextMessageType } from '@signalapp/libsignal-client';
import { b64, request } from './http.mjs';

/** Envelope type for a CiphertextMessage: PreKey→3 (PREKEY_BUNDLE), Whisper→1 (CIPHERTEXT), Plaintext→8. */
export function envelopeTypeFor(ct) {
  switch (ct.type()) {
    case CiphertextMessageType.PreKey: return 3;
    case CiphertextMessageType.Whisper: return 1;
    case CiphertextMessageType.Plaintext: return 8;
    default: throw new Error(`no envelope type for ciphertext type ${ct.type()}`);
  }
}

/**
 * PUT /v1/messages/{destination} with libsignal's JSON body.
 * `contents`: [{deviceId, registrationId, contents: CiphertextMessage | Uint8Array (sealed)}].
 * With `accessKey` (16 bytes) the message is sealed sender (type 6) and the header is added.
 */
export function sendRest(chat, destination, { timestamp, contents, onlineOnly = false, urgent = true, accessKey, story = false }) {
  const sealed = accessKey !== undefined;
  const body = {
    messages: contents.map((c) => ({
      type: sealed ? 6 : envelopeTypeFor(c.contents),
      destinationDeviceId: c.deviceId,
      destinationRegistrationId: c.registrationId,
      content: b64(sealed ? c.contents : c.contents.serialize()),
    })),
    online: onlineOnly,
    urgent,
    timestamp,
  };
  const headers = sealed ? [['unidentified-access-key', b64(accessKey)]] : [];
  const dest = typeof destination === 'string' ? destination : destination.getServiceIdString();
  return request(chat, 'PUT', `/v1/messages/${dest}${story ? '?story=true' : ''}`, { json: body, headers });
}

/** XOR of 16-byte access keys (the multi-recipient Unidentified-Access-Key). */
export function combinedAccessKey(keys) {
  const out = new Uint8Array(16);
  for (const k of keys) {
    if (k.length !== 16) throw new Error(`access key must be 16 bytes, got ${k.length}`);
    for (let i = 0; i < 16; i++) out[i] ^= k[i];
  }
  return out;
}

export const MRM_CONTENT_TYPE = 'application/vnd.signal-messenger.mrm';

/**
 * PUT /v1/messages/multi_recipient?ts=&online=&urgent=[&story=true] with a raw SSv2 body.
 * `accessKey` (16 bytes) adds Unidentified-Access-Key; omit it for stories.
 */
export function sendMultiRecipientRest(chat, payload, { timestamp, onlineOnly = false, urgent = true, story = false, accessKey, extraHeaders = [] }) {
  const q = `ts=${timestamp}&online=${onlineOnly}&urgent=${urgent}${story ? '&story=true' : ''}`;
  const headers = [['content-type', MRM_CONTENT_TYPE], ...extraHeaders];
  if (accessKey) headers.push(['unidentified-access-key', b64(accessKey)]);
  return request(chat, 'PUT', `/v1/messages/multi_recipient?${q}`, { body: payload, headers });
}
