// Attachments through Heliograph's own CDN3, driven as Signal clients drive it.
//
// A libsignal-registered Alice gets upload forms (libsignal's typed getUploadForm — REST in the
// chat socket over HTTP/1.1, gRPC Attachments/GetUploadForm over HTTP/2 once remote config
// enables `grpc.AttachmentsGetUploadForm` — and raw REST through chat.fetch). She uploads 5 MiB
// with tus in several PATCH chunks using Node `https` and the server's test CA, the form's headers
// on every request; one chunk's socket is destroyed midway and the upload resumes after a HEAD at
// `signedUploadLocation + "/" + key` (never reading `Location`, as Signal Desktop does). A second
// upload goes in one creation-with-upload POST, and an interrupted one of those is resumed too.
// Bob downloads without credentials: the bytes hash the same and a Range request gives 206 with
// the right slice. Over-limit and bad-credential requests get 413 / 401 / 403 / 409 / 415.
//
// Everything runs twice: on the local blob store and on S3 (the S3-protocol server at
// HELIOGRAPH_TEST_S3_URL, which scripts/test and .ci/run start with moto; unset fails the S3 half).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, Net as NetNs } from '@signalapp/libsignal-client';
import { startServer, targetKind } from '../lib/server.mjs';
import { HTTP_VERSIONS, makeNet, connectAuth } from '../lib/net.mjs';
import { Device } from '../lib/device.mjs';
import { registerTyped } from '../lib/register.mjs';
import { call, request } from '../lib/http.mjs';
import { settleNative } from '../lib/native.mjs';
import { s3Env } from '../lib/s3.mjs';

const T = { timeout: 60000 };
const MIB = 1024 * 1024;
const MAX_DEFAULT = 100 * MIB; // cdn.max_attachment_bytes default
const sha = (b) => createHash('sha256').update(b).digest('hex');

/**
 * One HTTPS request with Node's own client and the server's test CA (a fresh connection each
 * time). `cutAfter`: write that many bytes of `body`, then destroy the socket, as a dropped
 * connection does; resolves {cut: true} then.
 */
function httpsRequest(ca, method, url, { headers = {}, body, cutAfter } = {}) {
  return new Promise((resolve, reject) => {
    const hdrs = { ...headers };
    if (body !== undefined) hdrs['content-length'] = String(body.length);
    const req = https.request(url, { method, headers: hdrs, ca, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    if (cutAfter !== undefined) {
      req.on('error', () => resolve({ cut: true }));
      req.write(body.subarray(0, cutAfter), () => {
        // Give the bytes a moment on the wire, then pull the plug mid-body.
        setTimeout(() => { req.destroy(); resolve({ cut: true }); }, 100);
      });
      return;
    }
    req.on('error', reject);
    req.end(body);
  });
}

/** The form's headers (every tus request carries them) plus the tus version. */
function tusHeaders(form, extra = {}) {
  const h = { 'tus-resumable': '1.0.0' };
  for (const [k, v] of form.headers) h[k.toLowerCase()] = v;
  return { ...h, ...extra };
}

/** Where Desktop resumes: the form's location plus the key; `Location` is never read. */
const resumeUrl = (form) => `${form.signedUploadLocation}/${form.key}`;

/** A typed form (Map headers, URL location) or REST JSON, in one shape. */
function normalise(form) {
  if (form.signedUploadUrl) {
    return { cdn: form.cdn, key: form.key, headers: form.headers, signedUploadLocation: form.signedUploadUrl.toString().replace(/\/$/, '') };
  }
  return { cdn: form.cdn, key: form.key, headers: new Map(Object.entries(form.headers)), signedUploadLocation: form.signedUploadLocation };
}

async function headOffset(ca, form) {
  const r = await httpsRequest(ca, 'HEAD', resumeUrl(form), { headers: tusHeaders(form) });
  assert.equal(r.status, 200, `HEAD offset: ${r.status}`);
  assert.equal(r.headers['tus-resumable'], '1.0.0');
  return Number(r.headers['upload-offset']);
}

function patch(ca, form, offset, body, opts = {}) {
  return httpsRequest(ca, 'PATCH', resumeUrl(form), {
    headers: tusHeaders(form, { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }),
    body, ...opts,
  });
}

/** Sends the rest of `file` from the server's offset in `chunk`-sized PATCHes, as clients resume. */
async function resume(ca, form, file, chunk = MIB) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const at = await headOffset(ca, form);
    if (at === file.length) return;
    const r = await patch(ca, form, at, file.subarray(at, Math.min(at + chunk, file.length)));
    if (r.status === 409) continue; // a cut-off request committed meanwhile: ask again
    assert.equal(r.status, 204, `PATCH at ${at}: ${r.status} ${r.body}`);
    assert.equal(r.headers['tus-resumable'], '1.0.0');
  }
  assert.fail('the upload did not finish');
}

/** Waits until the server has committed what arrived before a cut (it does so asynchronously). */
async function offsetAfterCut(ca, form, before) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const at = await headOffset(ca, form);
    if (at > before || Date.now() > deadline) return at;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const BACKENDS = targetKind() === 'mock' ? [] : ['local', 's3'];

for (const backend of BACKENDS) {
  describe(`attachments on the ${backend} blob store`, { timeout: 300000 }, () => {
    let srv; let ca;
    before(async () => {
      const env = { HELIOGRAPH_LOG: 'info,heliograph_api::grpc::attachments=debug' };
      if (backend === 's3') Object.assign(env, await s3Env());
      srv = await startServer({ env });
      ca = fs.readFileSync(path.join(srv.dataDir, 'public', 'tls-ca.pem'));
    });
    after(async () => {
      await settleNative();
      if (srv) {
        const res = await srv.stop();
        assert.ok(res.code === 0 || res.signal === 'SIGTERM' || res.code === null, `server exit after SIGTERM: ${JSON.stringify(res)}`);
      }
    });
    const grpcCalls = () => (srv.stderr().match(/gRPC GetUploadForm/g) ?? []).length;
    /** Resolves once `pred()` holds for the server's log, or after 5 s (the assertion then fails). */
    const logged = async (pred) => {
      for (const end = Date.now() + 5000; !pred() && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    };

    for (const httpVersion of HTTP_VERSIONS) {
      describe(`over HTTP/${httpVersion}`, () => {
        let net; let aliceChat;
        const alice = new Device({ label: 'alice' });
        before(async () => {
          net = makeNet(srv, httpVersion);
          // Official clients get this switch through remote config; over HTTP/2 it moves the
          // typed call to gRPC, over HTTP/1.1 there is no HTTP/2 connection to use.
          net.setRemoteConfig(new Map([['grpc.AttachmentsGetUploadForm', '']]), NetNs.BuildVariant.Production);
          await registerTyped(net, alice);
          ({ chat: aliceChat } = await connectAuth(net, alice.account));
        });
        after(async () => {
          await aliceChat?.disconnect().catch(() => {});
          net = null;
        });

        test(`typed getUploadForm (${httpVersion === 2 ? 'gRPC Attachments/GetUploadForm' : 'REST in the chat socket'}) and REST give tus forms`, T, async () => {
          const calls = grpcCalls();
          const typed = normalise(await aliceChat.getUploadForm({ uploadSize: BigInt(5 * MIB) }));
          assert.equal(typed.cdn, 3);
          assert.match(typed.key, /^[A-Za-z0-9_-]{20}$/, '15 random bytes, URL-safe base64');
          assert.match(typed.headers.get('Authorization'), /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
          assert.equal(typed.headers.get('Upload-Metadata'), `filename ${Buffer.from(typed.key).toString('base64')}`);
          assert.equal(typed.signedUploadLocation, `https://127.0.0.1:${srv.port}/cdn3/attachments`);
          // The server's log line travels through a pipe that may lag the response: wait for it.
          if (httpVersion === 2) await logged(() => grpcCalls() - calls >= 1);
          assert.equal(grpcCalls() - calls, httpVersion === 2 ? 1 : 0, `the typed call went over ${httpVersion === 2 ? 'gRPC' : 'REST'}`);

          const rest = await call(aliceChat, 'GET', `/v4/attachments/form/upload?uploadLength=${5 * MIB}`, 200);
          assert.deepEqual(Object.keys(rest.json).sort(), ['cdn', 'headers', 'key', 'signedUploadLocation']);
          assert.equal(rest.json.cdn, 3);
          assert.notEqual(rest.json.key, typed.key);
        });

        test('5 MiB in several tus PATCH chunks, one cut off mid-chunk and resumed after a HEAD; Bob downloads', T, async () => {
          const file = randomBytes(5 * MIB);
          const form = normalise(await aliceChat.getUploadForm({ uploadSize: BigInt(file.length) }));
          const created = await httpsRequest(ca, 'POST', form.signedUploadLocation, {
            headers: tusHeaders(form, { 'upload-length': String(file.length) }),
          });
          assert.equal(created.status, 201, `creation: ${created.status} ${created.body}`);
          assert.equal(created.headers['upload-offset'], '0');
          assert.ok(created.headers['upload-expires'], 'Upload-Expires');

          let r = await patch(ca, form, 0, file.subarray(0, MIB));
          assert.equal(r.status, 204);
          assert.equal(r.headers['upload-offset'], String(MIB));

          // The second chunk's connection dies after half of it.
          const cut = await patch(ca, form, MIB, file.subarray(MIB, 2 * MIB), { cutAfter: MIB / 2 });
          assert.ok(cut.cut);
          const at = await offsetAfterCut(ca, form, MIB);
          assert.ok(at > MIB && at <= 2 * MIB, `bytes that arrived before the cut are kept (offset ${at})`);

          await resume(ca, form, file);
          // Wrong offset now: 409 with the real one.
          r = await patch(ca, form, 12, Buffer.from('x'));
          assert.equal(r.status, 409);
          assert.equal(r.headers['upload-offset'], String(file.length));

          // Bob: no credentials at all.
          const got = await httpsRequest(ca, 'GET', resumeUrl(form));
          assert.equal(got.status, 200);
          assert.equal(got.headers['content-length'], String(file.length));
          assert.equal(sha(got.body), sha(file), 'downloaded bytes match');
          const slice = await httpsRequest(ca, 'GET', resumeUrl(form), { headers: { range: 'bytes=3000000-3000999' } });
          assert.equal(slice.status, 206);
          assert.equal(slice.headers['content-range'], `bytes 3000000-3000999/${file.length}`);
          assert.ok(slice.body.equals(file.subarray(3000000, 3001000)), 'the range is the right slice');
          const beyond = await httpsRequest(ca, 'GET', resumeUrl(form), { headers: { range: `bytes=${file.length}-` } });
          assert.equal(beyond.status, 416);
        });

        test('one creation-with-upload POST, and an interrupted one resumed at location/key', T, async () => {
          const file = randomBytes(2 * MIB + 77);
          const rest = await call(aliceChat, 'GET', `/v4/attachments/form/upload?uploadLength=${file.length}`, 200);
          const form = normalise(rest.json);
          const r = await httpsRequest(ca, 'POST', form.signedUploadLocation, {
            headers: tusHeaders(form, { 'upload-length': String(file.length), 'content-type': 'application/offset+octet-stream' }),
            body: file,
          });
          assert.equal(r.status, 201, `${r.status} ${r.body}`);
          assert.equal(r.headers['upload-offset'], String(file.length));
          const got = await httpsRequest(ca, 'GET', resumeUrl(form));
          assert.equal(sha(got.body), sha(file));

          // Desktop: POST the whole file; the connection breaks; HEAD + PATCH at location/key.
          const other = randomBytes(3 * MIB);
          const form2 = normalise(await aliceChat.getUploadForm({ uploadSize: BigInt(other.length) }));
          const cut = await httpsRequest(ca, 'POST', form2.signedUploadLocation, {
            headers: tusHeaders(form2, { 'upload-length': String(other.length), 'content-type': 'application/offset+octet-stream' }),
            body: other, cutAfter: MIB,
          });
          assert.ok(cut.cut);
          await offsetAfterCut(ca, form2, 0);
          await resume(ca, form2, other, 4 * MIB);
          const got2 = await httpsRequest(ca, 'GET', resumeUrl(form2));
          assert.equal(sha(got2.body), sha(other));
        });

        test('limits and credentials: 413, 401, 403, 415, 412', T, async () => {
          await assert.rejects(aliceChat.getUploadForm({ uploadSize: BigInt(MAX_DEFAULT + 1) }), (e) => {
            assert.equal(e.code, ErrorCode.UploadTooLarge, `typed call over the maximum: ${e.code} ${e.message}`);
            return true;
          });
          const tooBig = await request(aliceChat, 'GET', `/v4/attachments/form/upload?uploadLength=${MAX_DEFAULT + 1}`);
          assert.equal(tooBig.status, 413);
          await call(aliceChat, 'GET', '/v4/attachments/form/upload?uploadLength=0', 400);

          const form = normalise((await call(aliceChat, 'GET', '/v4/attachments/form/upload?uploadLength=1000', 200)).json);
          const other = normalise((await call(aliceChat, 'GET', '/v4/attachments/form/upload?uploadLength=1000', 200)).json);
          const post = (headers) => httpsRequest(ca, 'POST', form.signedUploadLocation, { headers });
          let r = await post(tusHeaders(form, { 'upload-length': '1001' }));
          assert.equal(r.status, 413, 'over the credential\'s maxLen');
          r = await post(tusHeaders(form, { 'upload-length': '10', authorization: 'Bearer not.a.jwt' }));
          assert.equal(r.status, 401);
          const noAuth = tusHeaders(form, { 'upload-length': '10' });
          delete noAuth.authorization;
          r = await post(noAuth);
          assert.equal(r.status, 401);
          r = await post(tusHeaders(form, { 'upload-length': '10', authorization: other.headers.get('Authorization') }));
          assert.equal(r.status, 403, 'another key\'s credential');
          r = await httpsRequest(ca, 'POST', form.signedUploadLocation, {
            headers: tusHeaders(form, { 'upload-length': '3', 'content-type': 'text/plain' }), body: Buffer.from('abc'),
          });
          assert.equal(r.status, 415);
          const noVersion = tusHeaders(form, { 'upload-length': '10' });
          delete noVersion['tus-resumable'];
          r = await post(noVersion);
          assert.equal(r.status, 412);
          assert.equal(r.headers['tus-version'], '1.0.0');

          // A PATCH past the declared length is refused and keeps nothing.
          r = await post(tusHeaders(form, { 'upload-length': '10' }));
          assert.equal(r.status, 201);
          r = await patch(ca, form, 0, Buffer.alloc(11, 1));
          assert.equal(r.status, 413);
          assert.equal(await headOffset(ca, form), 0);
          const unknown = await httpsRequest(ca, 'GET', `${form.signedUploadLocation}/AAAAAAAAAAAAAAAAAAAA`);
          assert.equal(unknown.status, 404);
        });
      });
    }
  });
}
