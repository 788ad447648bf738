// Native-handle hygiene for libsignal under `node --test`.
//
// libsignal objects that own a chat connection (notably the RegistrationService returned by
// net.createRegistrationSession, which has no disconnect()) must be dropped while Node is still
// running. If they are only finalised at process exit, the Rust side tries to post a "connection
// closed" event to a JS channel that is already gone and the process aborts (neon
// channel.rs "SendError" panic, exit 134), which fails the whole test file.
// Verified: registering, then exiting → abort; registering, dropping the service and running a
// few GCs → clean exit. Call settleNative() in after() hooks, after disconnecting every chat.
import v8 from 'node:v8';
import vm from 'node:vm';

let gcFn = globalThis.gc;
if (typeof gcFn !== 'function') {
  v8.setFlagsFromString('--expose-gc');
  gcFn = vm.runInNewContext('gc');
}

export async function settleNative(rounds = 4) {
  for (let i = 0; i < rounds; i++) {
    gcFn();
    // let the native side deliver whatever the finalisers queued
    await new Promise((r) => setTimeout(r, 50));
  }
}
