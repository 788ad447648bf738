// The S3-compatible test server (moto, started by scripts/test) as a blob backend.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

/** A fresh bucket on the S3 test server; fails (never skips) when none is configured. */
export async function s3Env() {
  const url = process.env.HELIOGRAPH_TEST_S3_URL;
  assert.ok(url, 'HELIOGRAPH_TEST_S3_URL is not set: run through scripts/test (it starts moto), or start `moto_server -H 127.0.0.1 -p 5000` and set HELIOGRAPH_TEST_S3_URL=http://127.0.0.1:5000');
  const bucket = `heliograph-interop-${randomBytes(6).toString('hex')}`;
  const res = await fetch(`${url.replace(/\/$/, '')}/${bucket}`, { method: 'PUT' });
  assert.ok(res.ok, `creating bucket ${bucket} at ${url}: HTTP ${res.status}`);
  return {
    HELIOGRAPH_BLOBS__BACKEND: 's3',
    HELIOGRAPH_BLOBS__S3__ENDPOINT: url,
    HELIOGRAPH_BLOBS__S3__BUCKET: bucket,
    HELIOGRAPH_BLOBS__S3__ACCESS_KEY_ID: 'heliograph-interop',
    HELIOGRAPH_BLOBS__S3__SECRET_ACCESS_KEY: 'heliograph-interop-secret',
  };
}

