//! Offline drain: queue K messages for each of D offline devices (measuring how fast the
//! server accepts them and what each queued message costs in store bytes and memory), then
//! connect them all and measure how fast the backlog is delivered and acknowledged.
//!
//! The messages are sealed-sender (as most Signal traffic is), so the drain is the queue's
//! own work, with no server delivery receipts mixed in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use super::throughput::Sender;
use super::{close_all, Ctx, Device, Measure, Report};
use crate::stats::{Latencies, Progress};

/// Parameters.
#[derive(Debug, Clone)]
pub struct Drain {
    /// Offline devices.
    pub devices: usize,
    /// Messages queued for each.
    pub messages: usize,
    /// Sending devices.
    pub senders: usize,
}

/// Sends in flight per sender while queueing.
const IN_FLIGHT_PER_SENDER: usize = 16;
/// How long the drain may take at most.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);

/// Runs the scenario.
pub async fn run(ctx: &mut Ctx, p: &Drain) -> anyhow::Result<Report> {
    let accounts = ctx.accounts(p.devices + p.senders).await?;
    let (receivers, sender_accounts) = accounts.split_at(p.devices);
    let measure = Measure::new(ctx.tag());
    let (sender_devices, _) = ctx.connect_all(sender_accounts, &measure).await;
    let mut sender_sockets = Vec::new();
    let mut senders = Vec::new();
    for d in sender_devices {
        let own = Arc::new(d.socket);
        senders.push(Arc::new(Sender::open(ctx, own.clone(), true).await?));
        sender_sockets.push((d.account, own, d.handler));
    }
    if senders.is_empty() {
        let mut r = Report::new("drain");
        r.errors_from(&measure.errors);
        return Ok(r);
    }

    // Queue: every (receiver, k) pair once, spread over the senders.
    let total = p.devices * p.messages;
    let store_before = ctx.server.store_bytes();
    let mem_before = ctx.server.sample();
    let queued = Arc::new(crate::stats::Counter::default());
    let (q, m) = (queued.clone(), measure.clone());
    let progress = Progress::start("drain", move || {
        format!("queued {}/{total} errors {}", q.get(), m.errors.total())
    });
    let payload_bytes = ctx.common.payload_bytes;
    let enqueue_rtt = Latencies::default();
    let started = Instant::now();
    stream::iter(0..total)
        .for_each_concurrent(senders.len() * IN_FLIGHT_PER_SENDER, |i| {
            let sender = senders[i % senders.len()].clone();
            let to = receivers[i % receivers.len()].clone();
            let (measure, queued, rtt) = (measure.clone(), queued.clone(), &enqueue_rtt);
            async move {
                let content = crate::payload::make(payload_bytes, measure.seq(i as u64));
                let t = Instant::now();
                match sender.send(&to, content).await {
                    Ok(()) => {
                        rtt.record(t.elapsed());
                        queued.inc();
                    }
                    Err(e) => measure.errors.add(e),
                }
            }
        })
        .await;
    let enqueue_secs = started.elapsed().as_secs_f64();
    progress.finish().await;
    let store_queued = ctx.server.store_bytes();
    let mem_queued = crate::server::settle(&ctx.server, Duration::from_secs(3)).await;

    // Drain: connect every receiver at once and wait for the whole backlog.
    let expected = queued.get();
    let (m, e) = (measure.clone(), expected);
    let progress = Progress::start("drain", move || {
        format!(
            "delivered {}/{e} errors {}",
            m.delivered.get(),
            m.errors.total()
        )
    });
    let cpu_before = ctx.server.sample();
    let started = Instant::now();
    let (devices, connect_times) = ctx.connect_all(receivers, &measure).await;
    let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
    let completion = Latencies::default();
    let mut done = vec![false; devices.len()];
    loop {
        for (i, d) in devices.iter().enumerate() {
            if !done[i] && d.handler.delivered.get() >= p.messages as u64 {
                done[i] = true;
                completion.record(started.elapsed());
            }
        }
        if measure.delivered.get() >= expected
            || tokio::time::Instant::now() >= deadline
            || devices.iter().all(|d| d.socket.is_closed())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drain_secs = started.elapsed().as_secs_f64();
    let cpu_after = ctx.server.sample();
    progress.finish().await;
    let delivered = measure.delivered.get();
    if delivered < expected {
        measure
            .errors
            .add_n("queued but not delivered", expected - delivered);
    }
    // Closing waits for the server to close each socket, which it does after handling the
    // acknowledgements before the close: then the queues are empty.
    let closing = Instant::now();
    close_all(devices).await;
    let acks_after_delivery_s = closing.elapsed().as_secs_f64();
    let store_after = ctx.server.store_bytes();
    drop(senders);
    let mut rest = Vec::new();
    for (account, socket, handler) in sender_sockets {
        if let Ok(socket) = Arc::try_unwrap(socket) {
            rest.push(Device {
                account,
                socket,
                handler,
            });
        }
    }
    close_all(rest).await;

    let mut r = Report::new("drain");
    r.param("devices", p.devices)
        .param("messages_per_device", p.messages)
        .param("senders", p.senders)
        .param("payload_bytes", payload_bytes)
        .param("sealed", true);
    r.metric("queued", expected as f64)
        .metric("enqueue_per_s", expected as f64 / enqueue_secs)
        .latency("enqueue_rtt", &enqueue_rtt)
        .metric("delivered", delivered as f64)
        .metric("duplicates", measure.duplicates.get() as f64)
        .metric("drain_s", drain_secs)
        .metric("drain_per_s", delivered as f64 / drain_secs)
        .metric("acks_pending_after_delivery_s", acks_after_delivery_s)
        .latency("device_drained", &completion)
        .latency("connect", &connect_times)
        .metric("queue_empty_seen", measure.queue_empty.get() as f64)
        .metric("leftover_pushes", measure.foreign.get() as f64);
    if ctx.server.pid.is_some() {
        let cpu = cpu_after.cpu_seconds - cpu_before.cpu_seconds;
        r.metric("drain_server_cpu_s", cpu);
        if delivered > 0 {
            r.metric(
                "drain_server_cpu_us_per_message",
                cpu * 1e6 / delivered as f64,
            );
        }
        if expected > 0 {
            r.metric(
                "rss_per_queued_message_bytes",
                mem_queued.rss_kib.saturating_sub(mem_before.rss_kib) as f64 * 1024.0
                    / expected as f64,
            );
        }
    }
    if let (Some(before), Some(queued_bytes)) = (store_before, store_queued) {
        if expected > 0 {
            r.metric(
                "store_bytes_per_queued_message",
                queued_bytes.saturating_sub(before) as f64 / expected as f64,
            );
        }
        r.metric(
            "store_mib_after_queue",
            queued_bytes as f64 / (1 << 20) as f64,
        );
    }
    if let Some(after) = store_after {
        r.metric("store_mib_after_drain", after as f64 / (1 << 20) as f64);
    }
    r.errors_from(&measure.errors);
    Ok(r)
}
