//! Registration rate: C clients register new accounts back to back for a while, each as a
//! real client does (verification session, captcha, code, `POST /v1/registration` with
//! signed keys), then connect the new device and upload its one-time prekeys.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Ctx, Report};
use crate::account::{self, Numbers};
use crate::socket::{Ignore, Socket};
use crate::stats::{Counter, Errors, Latencies, Progress};

/// Parameters.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Clients registering at once.
    pub concurrency: usize,
    /// How long to keep registering.
    pub duration: Duration,
    /// One-time EC and Kyber prekeys uploaded per identity after registering (0: none).
    pub prekeys: u32,
}

/// Runs the scenario.
pub async fn run(ctx: &mut Ctx, p: &Registration) -> anyhow::Result<Report> {
    let numbers = Arc::new(Numbers::default());
    let errors = Arc::new(Errors::default());
    let done = Arc::new(Counter::default());
    let flow = Arc::new(Latencies::default());
    let keys = Arc::new(Latencies::default());
    let (d, e) = (done.clone(), errors.clone());
    let progress = Progress::start("registration", move || {
        format!("registered {} errors {}", d.get(), e.total())
    });
    let cpu_before = ctx.server.sample();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + p.duration;
    let mut tasks = Vec::new();
    for _ in 0..p.concurrency.max(1) {
        let (target, numbers, errors, done, flow, keys) = (
            ctx.target.clone(),
            numbers.clone(),
            errors.clone(),
            done.clone(),
            flow.clone(),
            keys.clone(),
        );
        let prekeys = p.prekeys;
        tasks.push(tokio::spawn(async move {
            let socket = match Socket::unauthenticated(&target).await {
                Ok(s) => s,
                Err(e) => {
                    errors.add(format!("connect: {e}"));
                    return;
                }
            };
            while tokio::time::Instant::now() < deadline {
                let t = Instant::now();
                let account = match account::register(&socket, &numbers).await {
                    Ok((a, _)) => a,
                    Err(e) => {
                        errors.add(e.to_string());
                        continue;
                    }
                };
                if prekeys > 0 {
                    let k = Instant::now();
                    match Socket::authenticated(
                        &target,
                        &account.username(),
                        &account.password,
                        Arc::new(Ignore),
                    )
                    .await
                    {
                        Ok(own) => {
                            if let Err(e) = account::upload_keys(&own, &account, prekeys).await {
                                errors.add(e.to_string());
                                own.close().await;
                                continue;
                            }
                            keys.record(k.elapsed());
                            own.close().await;
                        }
                        Err(e) => {
                            errors.add(format!("connect new device: {e}"));
                            continue;
                        }
                    }
                }
                flow.record(t.elapsed());
                done.inc();
            }
            socket.close().await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = ctx.server.sample().cpu_seconds - cpu_before.cpu_seconds;
    progress.finish().await;

    let mut r = Report::new("registration");
    r.param("concurrency", p.concurrency)
        .param("duration_s", p.duration.as_secs_f64())
        .param("prekeys_per_identity", p.prekeys);
    r.metric("registered", done.get() as f64)
        .metric("registrations_per_s", done.get() as f64 / secs)
        .latency("flow", &flow)
        .latency("key_upload", &keys);
    if ctx.server.pid.is_some() && done.get() > 0 {
        r.metric(
            "server_cpu_ms_per_registration",
            cpu * 1e3 / done.get() as f64,
        );
    }
    r.errors_from(&errors);
    Ok(r)
}
