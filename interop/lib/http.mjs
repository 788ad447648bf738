// Helpers for REST requests tunnelled inside libsignal's chat socket (`chat.fetch`).
import assert from 'node:assert/strict';

export const b64 = (u8) => Buffer.from(u8).toString('base64');
export const b64NoPad = (u8) => b64(u8).replace(/=+$/, '');
export const b64url = (u8) => Buffer.from(u8).toString('base64url');
export const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
export const utf8 = (s) => new Uint8Array(Buffer.from(s, 'utf8'));

export function basicAuth(user, password) {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

export const DEFAULT_TIMEOUT_MS = 10000;

/**
 * Send a REST request through `chat.fetch`.
 * `json` (any value) is serialised and sent with content-type application/json; `body` sends raw
 * bytes/string as is. Returns {status, message, headers: [[k,v]], body: Buffer, text, json}.
 */
export async function request(chat, verb, path, { json, body, headers = [], auth, timeoutMillis = DEFAULT_TIMEOUT_MS } = {}) {
  const hdrs = [...headers];
  let payload;
  if (json !== undefined) {
    payload = utf8(JSON.stringify(json));
    if (!hdrs.some(([k]) => k.toLowerCase() === 'content-type')) hdrs.push(['content-type', 'application/json']);
  } else if (body !== undefined) {
    payload = typeof body === 'string' ? utf8(body) : new Uint8Array(body);
  }
  if (auth) hdrs.push(['authorization', auth]);
  const res = await chat.fetch({ verb, path, headers: hdrs, body: payload, timeoutMillis });
  const buf = Buffer.from(res.body ?? []);
  const text = buf.toString('utf8');
  let parsed;
  if (buf.length) { try { parsed = JSON.parse(text); } catch { parsed = undefined; } }
  return { status: res.status, message: res.message, headers: res.headers, body: buf, text, json: parsed };
}

export function header(res, name) {
  const h = res.headers.find(([k]) => k.toLowerCase() === name.toLowerCase());
  return h ? h[1] : undefined;
}

/** Assert a status, printing the request and the body on failure. */
export function expectStatus(res, expected, what = '') {
  const ok = Array.isArray(expected) ? expected.includes(res.status) : res.status === expected;
  assert.ok(ok, `${what ? `${what}: ` : ''}expected HTTP ${JSON.stringify(expected)}, got ${res.status} ${res.message ?? ''} body=${res.text.slice(0, 500)}`);
  return res;
}

/** Request + status check + JSON body (if any). */
export async function call(chat, verb, path, expected, opts = {}) {
  const res = await request(chat, verb, path, opts);
  expectStatus(res, expected, `${verb} ${path}`);
  return res;
}
