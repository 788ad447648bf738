//! Fan-out: one sealed-sender multi-recipient message (SSv2, `PUT
//! /v1/messages/multi_recipient` with the combined access key) to groups of G connected
//! devices; reports the request round trip (the server parses, splits and stores G
//! envelopes), the time until the last member has it, and deliveries per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

use heliograph_protocol::ssv2::{self, RecipientDevice};
use heliograph_types::{Aci, DeviceId, ServiceId};

use super::{close_all, wall_clock_ms, Ctx, Measure, Report};
use crate::account::Account;
use crate::socket::Socket;
use crate::stats::{Latencies, Progress};

/// Parameters.
#[derive(Debug, Clone)]
pub struct Fanout {
    /// Group sizes to try, in devices (one device per member).
    pub sizes: Vec<usize>,
    /// Messages sent to each group, one after the other.
    pub messages: usize,
}

/// How long one message may take to reach the whole group.
const GROUP_LIMIT: Duration = Duration::from_secs(60);

/// The SSv2 body for `members` carrying `payload` as the shared ciphertext, and the
/// combined access key (XOR of the members' keys).
pub fn multi_recipient_body(members: &[Arc<Account>], payload: &[u8]) -> (Vec<u8>, [u8; 16]) {
    let mut rng = rand::rngs::OsRng;
    let mut combined = [0u8; 16];
    let recipients: Vec<_> = members
        .iter()
        .map(|m| {
            for (c, k) in combined.iter_mut().zip(m.access_key) {
                *c ^= k;
            }
            // Per-recipient key material (c ‖ at) is opaque to the server.
            let mut key = [0u8; 48];
            rng.fill_bytes(&mut key);
            (
                ServiceId::Aci(Aci::from_uuid(m.aci)),
                vec![RecipientDevice {
                    device_id: DeviceId::PRIMARY,
                    registration_id: m.registration_id,
                }],
                key,
            )
        })
        .collect();
    // Shared part: the ephemeral public key, then the ciphertext.
    let mut shared = vec![0u8; 32];
    rng.fill_bytes(&mut shared);
    shared.extend_from_slice(payload);
    (ssv2::encode(&recipients, &shared), combined)
}

/// Runs the scenario.
pub async fn run(ctx: &mut Ctx, p: &Fanout) -> anyhow::Result<Report> {
    let largest = p.sizes.iter().copied().max().unwrap_or(0);
    let accounts = ctx.accounts(largest).await?;
    let measure = Measure::new(ctx.tag());
    let (devices, _) = ctx.connect_all(&accounts, &measure).await;
    let mut r = Report::new("fanout");
    r.param("sizes", &p.sizes)
        .param("messages_per_size", p.messages)
        .param("payload_bytes", ctx.common.payload_bytes);
    if devices.len() != accounts.len() {
        r.errors_from(&measure.errors);
        close_all(devices).await;
        return Ok(r);
    }
    let sender = Socket::unauthenticated(&ctx.target).await?;
    let m = measure.clone();
    let progress = Progress::start("fanout", move || {
        format!(
            "delivered {} errors {}",
            m.delivered.get(),
            m.errors.total()
        )
    });
    let mut seq = 0u64;
    for &size in &p.sizes {
        let members = &accounts[..size];
        let rtt = Latencies::default();
        let complete = Latencies::default();
        let before = measure.delivered.get();
        let cpu_before = ctx.server.sample();
        let started = Instant::now();
        for _ in 0..p.messages {
            let payload = crate::payload::make(ctx.common.payload_bytes, measure.seq(seq));
            seq += 1;
            let (body, key) = multi_recipient_body(members, &payload);
            let target_count = measure.delivered.get() + size as u64;
            let t = Instant::now();
            let resp = sender
                .request(
                    "PUT",
                    &format!(
                        "/v1/messages/multi_recipient?ts={}&online=false&urgent=true&story=false",
                        wall_clock_ms()
                    ),
                    vec![
                        "content-type:application/vnd.signal-messenger.mrm".to_owned(),
                        format!("unidentified-access-key:{}", STANDARD.encode(key)),
                    ],
                    Some(body),
                )
                .await;
            match resp {
                Ok(resp) if resp.ok() => rtt.record(t.elapsed()),
                Ok(resp) => {
                    measure
                        .errors
                        .add(format!("multi_recipient: HTTP {}", resp.status));
                    continue;
                }
                Err(e) => {
                    measure.errors.add(format!("multi_recipient: {e}"));
                    continue;
                }
            }
            if !measure.wait_delivered(target_count, GROUP_LIMIT).await {
                measure.errors.add_n(
                    format!(
                        "group of {size}: copies missing after {}s",
                        GROUP_LIMIT.as_secs()
                    ),
                    target_count - measure.delivered.get(),
                );
            } else {
                complete.record(t.elapsed());
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let cpu = ctx.server.sample().cpu_seconds - cpu_before.cpu_seconds;
        let copies = measure.delivered.get() - before;
        r.metric(&format!("g{size}_deliveries_per_s"), copies as f64 / secs)
            .latency(&format!("g{size}_send_rtt"), &rtt)
            .latency(&format!("g{size}_complete"), &complete);
        if ctx.server.pid.is_some() && copies > 0 {
            r.metric(
                &format!("g{size}_server_cpu_us_per_copy"),
                cpu * 1e6 / copies as f64,
            );
        }
    }
    progress.finish().await;
    r.latency("e2e", &measure.latency)
        .metric("delivered", measure.delivered.get() as f64)
        .metric("duplicates", measure.duplicates.get() as f64)
        .metric("leftover_pushes", measure.foreign.get() as f64);
    sender.close().await;
    close_all(devices).await;
    r.errors_from(&measure.errors);
    Ok(r)
}
