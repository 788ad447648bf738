//! 1:1 throughput: pairs of devices send each other messages at a target total rate for a
//! while; reports the sustained delivery rate, end-to-end latency (send → push received),
//! the send round trip, server CPU per message, and every error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::sync::Semaphore;

use heliograph_protocol::proto::textsecure::envelope::Type as EnvelopeType;

use super::{close_all, message_body, Ctx, Device, Measure, Report};
use crate::socket::Socket;
use crate::stats::{Counter, Latencies, Progress};

/// Parameters.
#[derive(Debug, Clone)]
pub struct Throughput {
    /// Pairs of devices (each device sends to its partner).
    pub pairs: usize,
    /// Target messages per second, all senders together.
    pub rate: f64,
    /// How long to send.
    pub duration: Duration,
}

/// Sends in flight per device at most (the server handles 32 requests per socket at once).
const IN_FLIGHT_PER_DEVICE: usize = 32;
/// How long delivery of what was accepted may take after sending stops.
const DELIVERY_GRACE: Duration = Duration::from_secs(15);
/// How long the delivery receipts may take after that (a saturated server is still working
/// through acknowledgements when the last message arrives).
const RECEIPT_GRACE: Duration = Duration::from_secs(60);

/// How a device sends: identified over its own socket, or sealed over an unauthenticated one.
pub(crate) struct Sender {
    pub(crate) socket: Arc<Socket>,
    sealed: bool,
}

impl Sender {
    /// A sender for a device whose socket is `own`; opens an unauthenticated socket for
    /// sealed sends.
    pub(crate) async fn open(ctx: &Ctx, own: Arc<Socket>, sealed: bool) -> anyhow::Result<Sender> {
        if sealed {
            Ok(Sender {
                socket: Arc::new(Socket::unauthenticated(&ctx.target).await?),
                sealed: true,
            })
        } else {
            Ok(Sender {
                socket: own,
                sealed: false,
            })
        }
    }

    /// Sends `content` to the recipient's primary device; `Err` names the failure.
    pub(crate) async fn send(
        &self,
        to: &crate::account::Account,
        content: Vec<u8>,
    ) -> Result<(), String> {
        let (kind, headers) = if self.sealed {
            (
                EnvelopeType::UnidentifiedSender as i32,
                vec![format!(
                    "unidentified-access-key:{}",
                    STANDARD.encode(to.access_key)
                )],
            )
        } else {
            (EnvelopeType::Ciphertext as i32, vec![])
        };
        let body = message_body(kind, to.registration_id, &content);
        match self
            .socket
            .json("PUT", &format!("/v1/messages/{}", to.aci), headers, &body)
            .await
        {
            Ok(r) if r.ok() => Ok(()),
            Ok(r) => Err(format!("send: HTTP {}", r.status)),
            Err(e) => Err(format!("send: {e}")),
        }
    }
}

/// Runs the scenario.
pub async fn run(ctx: &mut Ctx, p: &Throughput) -> anyhow::Result<Report> {
    let accounts = ctx.accounts(p.pairs * 2).await?;
    let measure = Measure::new(ctx.tag());
    let (devices, _) = ctx.connect_all(&accounts, &measure).await;
    if devices.len() != accounts.len() {
        let mut r = Report::new("throughput");
        r.errors_from(&measure.errors);
        close_all(devices).await;
        return Ok(r);
    }
    let mut sockets = Vec::new();
    let mut senders = Vec::new();
    for d in devices {
        let own = Arc::new(d.socket);
        senders.push(Arc::new(
            Sender::open(ctx, own.clone(), ctx.common.sealed).await?,
        ));
        sockets.push((d.account, own, d.handler));
    }

    let per_sender = p.rate / senders.len() as f64;
    let period = Duration::from_secs_f64(1.0 / per_sender.max(1e-3));
    let sent = Arc::new(Counter::default());
    let attempted = Arc::new(Counter::default());
    let send_rtt = Arc::new(Latencies::default());
    let payload_bytes = ctx.common.payload_bytes;
    let seq = Arc::new(std::sync::atomic::AtomicU64::new(0));

    let (m, s) = (measure.clone(), sent.clone());
    let progress = Progress::start("throughput", move || {
        format!(
            "sent {} delivered {} receipts {} errors {}",
            s.get(),
            m.delivered.get(),
            m.receipts.get(),
            m.errors.total()
        )
    });
    let cpu_before = ctx.server.sample();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + p.duration;
    let mut tasks = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        // Device 2k sends to 2k+1 and back.
        let partner = sockets[i ^ 1].0.clone();
        let sender = sender.clone();
        let (sent, attempted, send_rtt, measure, seq) = (
            sent.clone(),
            attempted.clone(),
            send_rtt.clone(),
            measure.clone(),
            seq.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permits = Arc::new(Semaphore::new(IN_FLIGHT_PER_DEVICE));
            // Spread the first sends over one period so senders do not tick in lockstep.
            let offset = period.mul_f64(i as f64 / 64.0 % 1.0);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = tick.tick() => {}
                }
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                attempted.inc();
                let n = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let content = crate::payload::make(payload_bytes, measure.seq(n));
                let (sender, partner, sent, send_rtt, measure) = (
                    sender.clone(),
                    partner.clone(),
                    sent.clone(),
                    send_rtt.clone(),
                    measure.clone(),
                );
                tokio::spawn(async move {
                    let t = Instant::now();
                    match sender.send(&partner, content).await {
                        Ok(()) => {
                            send_rtt.record(t.elapsed());
                            sent.inc();
                        }
                        Err(e) => measure.errors.add(e),
                    }
                    drop(permit);
                });
            }
            // Wait for this sender's requests to finish.
            let _ = permits.acquire_many(IN_FLIGHT_PER_DEVICE as u32).await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let send_secs = started.elapsed().as_secs_f64();
    let delivered_at_stop = measure.delivered.get();

    // Everything accepted must arrive.
    measure.wait_delivered(sent.get(), DELIVERY_GRACE).await;
    let delivered_secs = started.elapsed().as_secs_f64();
    // Identified sends: each acknowledgement makes the server queue a receipt for the
    // sender. Wait for them, so no backlog is left for the next scenario. (The echo baseline
    // has no receipts.)
    if !ctx.common.sealed && ctx.kind != crate::server::Kind::Echo {
        let expected = measure.delivered.get();
        if !measure.wait_receipts(expected, RECEIPT_GRACE).await {
            measure.errors.add_n(
                format!(
                    "delivery receipts missing after {}s",
                    RECEIPT_GRACE.as_secs()
                ),
                expected.saturating_sub(measure.receipts.get()),
            );
        }
    }
    let total_secs = started.elapsed().as_secs_f64();
    let cpu_after = ctx.server.sample();
    progress.finish().await;
    let missing = sent.get().saturating_sub(measure.delivered.get());
    if missing > 0 {
        measure.errors.add_n(
            format!(
                "accepted but undelivered after {}s",
                DELIVERY_GRACE.as_secs()
            ),
            missing,
        );
    }

    drop(senders);
    let mut devices = Vec::new();
    for (account, socket, handler) in sockets {
        if let Ok(socket) = Arc::try_unwrap(socket) {
            devices.push(Device {
                account,
                socket,
                handler,
            });
        }
    }
    close_all(devices).await;

    let delivered = measure.delivered.get() as f64;
    let cpu = cpu_after.cpu_seconds - cpu_before.cpu_seconds;
    let mut r = Report::new("throughput");
    r.param("pairs", p.pairs)
        .param("target_rate_per_s", p.rate)
        .param("duration_s", p.duration.as_secs_f64())
        .param("payload_bytes", payload_bytes)
        .param("sealed", ctx.common.sealed);
    r.metric("attempted", attempted.get() as f64)
        .metric("sent", sent.get() as f64)
        .metric("delivered", delivered)
        .metric("duplicates", measure.duplicates.get() as f64)
        .metric("receipts", measure.receipts.get() as f64)
        .metric("send_rate_per_s", sent.get() as f64 / send_secs)
        .metric("delivered_per_s", delivered_at_stop as f64 / send_secs)
        .metric("drain_after_stop_s", delivered_secs - send_secs)
        .metric("receipts_after_stop_s", total_secs - delivered_secs)
        .metric("leftover_pushes", measure.foreign.get() as f64)
        .latency("e2e", &measure.latency)
        .latency("send_rtt", &send_rtt)
        .metric("server_cpu_s", cpu)
        .metric("server_cpu_percent", 100.0 * cpu / total_secs)
        .metric("rss_mib", cpu_after.rss_kib as f64 / 1024.0);
    if delivered > 0.0 && ctx.server.pid.is_some() {
        r.metric("server_cpu_us_per_message", cpu * 1e6 / delivered);
    }
    r.errors_from(&measure.errors);
    Ok(r)
}
