//! Idle connections: hold N authenticated sockets (keepalives only) and report what each costs
//! the server in resident memory, plus how fast they connect.

use std::time::{Duration, Instant};

use super::{close_all, Ctx, Measure, Report};
use crate::server::settle;
use crate::stats::Progress;

/// Parameters.
#[derive(Debug, Clone)]
pub struct Idle {
    /// Sockets to hold.
    pub connections: usize,
    /// How long to hold them.
    pub hold: Duration,
}

/// Runs the scenario.
pub async fn run(ctx: &mut Ctx, p: &Idle) -> anyhow::Result<Report> {
    let accounts = ctx.accounts(p.connections).await?;
    let measure = Measure::new(ctx.tag());
    let before = settle(&ctx.server, Duration::from_secs(5)).await;

    let started = Instant::now();
    let m = measure.clone();
    let n = p.connections;
    let progress = Progress::start("idle", move || {
        format!("connecting {n} sockets, errors {}", m.errors.total())
    });
    let (devices, connect_times) = ctx.connect_all(&accounts, &measure).await;
    let connect_secs = started.elapsed().as_secs_f64();
    progress.finish().await;

    let held = devices.len();
    let m = measure.clone();
    let progress = Progress::start("idle", move || {
        format!("holding {held} sockets, errors {}", m.errors.total())
    });
    tokio::time::sleep(p.hold).await;
    let during = settle(&ctx.server, Duration::from_secs(5)).await;
    progress.finish().await;
    let still_open = devices.iter().filter(|d| !d.socket.is_closed()).count();

    close_all(devices).await;
    let after = settle(&ctx.server, Duration::from_secs(5)).await;

    let mut r = Report::new("idle");
    r.param("connections", p.connections)
        .param("hold_s", p.hold.as_secs());
    r.metric("connected", held as f64)
        .metric("open_at_end", still_open as f64)
        .metric("connect_per_s", held as f64 / connect_secs.max(1e-9))
        .latency("connect", &connect_times)
        .metric("rss_before_mib", before.rss_kib as f64 / 1024.0)
        .metric("rss_held_mib", during.rss_kib as f64 / 1024.0)
        .metric("rss_after_close_mib", after.rss_kib as f64 / 1024.0);
    if held > 0 && ctx.server.pid.is_some() {
        r.metric(
            "rss_per_connection_kib",
            during.rss_kib.saturating_sub(before.rss_kib) as f64 / held as f64,
        );
    }
    r.errors_from(&measure.errors);
    Ok(r)
}
