//! The scenarios and what they share: the run context (target, server process, account
//! pool), connected devices whose pushes are measured, and the report each scenario returns.

pub mod drain;
pub mod fanout;
pub mod idle;
pub mod registration;
pub mod throughput;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use heliograph_protocol::proto::textsecure::{envelope, Envelope};

use crate::account::{self, Account, Numbers};
use crate::server::{Kind, Server};
use crate::socket::{PushHandler, Socket};
use crate::stats::{micros_at, Counter, Errors, Latencies, Progress};
use crate::transport::{HttpVersion, Target};

/// Settings every scenario reads.
#[derive(Debug, Clone, Serialize)]
pub struct Common {
    /// Bytes of each 1:1 ciphertext (and of the shared part of a multi-recipient message).
    pub payload_bytes: usize,
    /// Send 1:1 messages sealed (unauthenticated socket + access key) instead of identified.
    pub sealed: bool,
    /// Sockets opened or accounts registered at once while setting up.
    pub setup_concurrency: usize,
}

/// The run: where to send, the server process, the accounts registered so far.
pub struct Ctx {
    /// Connection details.
    pub target: Target,
    /// The server process.
    pub server: Server,
    /// What it is.
    pub kind: Kind,
    /// Shared settings.
    pub common: Common,
    numbers: Arc<Numbers>,
    pool: Vec<Arc<Account>>,
    next_tag: AtomicU16,
}

impl Ctx {
    /// A context for `server`.
    pub fn new(
        server: Server,
        kind: Kind,
        http: HttpVersion,
        common: Common,
    ) -> anyhow::Result<Ctx> {
        let target = Target::new(server.addr, http, &server.ca)?;
        Ok(Ctx {
            target,
            server,
            kind,
            common,
            numbers: Arc::default(),
            pool: Vec::new(),
            next_tag: AtomicU16::new(1),
        })
    }

    /// A fresh tag for a scenario's payloads, so leftovers of an earlier one are told apart.
    pub fn tag(&self) -> u16 {
        self.next_tag.fetch_add(1, Ordering::Relaxed)
    }

    /// At least `n` registered accounts (registering more through the API as needed); the
    /// first `n` of the pool.
    pub async fn accounts(&mut self, n: usize) -> anyhow::Result<Vec<Arc<Account>>> {
        if self.pool.len() < n {
            let missing = n - self.pool.len();
            let workers = self.common.setup_concurrency.clamp(1, missing);
            let done = Arc::new(Counter::default());
            let d = done.clone();
            let progress =
                Progress::start("setup", move || format!("registered {}/{missing}", d.get()));
            let per = missing.div_ceil(workers);
            let mut tasks = Vec::new();
            for w in 0..workers {
                let count = per.min(missing.saturating_sub(w * per));
                let target = self.target.clone();
                let numbers = self.numbers.clone();
                let done = done.clone();
                tasks.push(tokio::spawn(async move {
                    let socket = Socket::unauthenticated(&target).await?;
                    let mut out = Vec::with_capacity(count);
                    for _ in 0..count {
                        let (account, _) = account::register(&socket, &numbers).await?;
                        out.push(Arc::new(account));
                        done.inc();
                    }
                    socket.close().await;
                    anyhow::Ok(out)
                }));
            }
            let mut failure = None;
            for t in tasks {
                match t.await {
                    Ok(Ok(accounts)) => self.pool.extend(accounts),
                    Ok(Err(e)) => failure = Some(e),
                    Err(e) => failure = Some(e.into()),
                }
            }
            progress.finish().await;
            if let Some(e) = failure {
                return Err(e.context("registering the account pool"));
            }
        }
        Ok(self.pool[..n].to_vec())
    }

    /// Connects one authenticated socket per account, `setup_concurrency` at a time; returns
    /// the devices and how long each connect took.
    pub async fn connect_all(
        &self,
        accounts: &[Arc<Account>],
        measure: &Arc<Measure>,
    ) -> (Vec<Device>, Latencies) {
        let times = Latencies::default();
        let results: Vec<_> = stream::iter(accounts.iter().cloned())
            .map(|account| {
                let target = self.target.clone();
                let measure = measure.clone();
                async move {
                    let started = Instant::now();
                    let handler = Arc::new(DeviceHandler::new(measure.clone()));
                    let r = Socket::authenticated(
                        &target,
                        &account.username(),
                        &account.password,
                        handler.clone(),
                    )
                    .await;
                    (account, handler, r, started.elapsed())
                }
            })
            .buffer_unordered(self.common.setup_concurrency.max(1))
            .collect()
            .await;
        let mut devices = Vec::with_capacity(results.len());
        for (account, handler, r, took) in results {
            match r {
                Ok(socket) => {
                    times.record(took);
                    devices.push(Device {
                        account,
                        socket,
                        handler,
                    });
                }
                Err(e) => measure.errors.add(format!("connect: {e}")),
            }
        }
        (devices, times)
    }
}

/// A connected device.
pub struct Device {
    /// Its account.
    pub account: Arc<Account>,
    /// Its authenticated socket.
    pub socket: Socket,
    /// What it has received.
    pub handler: Arc<DeviceHandler>,
}

/// Closes every socket.
pub async fn close_all(devices: Vec<Device>) {
    stream::iter(devices)
        .for_each_concurrent(64, |d| d.socket.close())
        .await;
}

/// What the devices of a scenario received.
pub struct Measure {
    /// Payload tag of this scenario.
    pub tag: u16,
    /// Marked messages delivered (first copies).
    pub delivered: Counter,
    /// Marked messages delivered again.
    pub duplicates: Counter,
    /// Server delivery receipts (type 5).
    pub receipts: Counter,
    /// Other envelopes (leftovers of earlier scenarios).
    pub foreign: Counter,
    /// `queue/empty` pushes.
    pub queue_empty: Counter,
    /// Send → push received.
    pub latency: Latencies,
    /// Errors of the scenario.
    pub errors: Arc<Errors>,
    progressed: tokio::sync::Notify,
}

impl Measure {
    /// An empty measure for payloads tagged `tag`.
    pub fn new(tag: u16) -> Arc<Measure> {
        Arc::new(Measure {
            tag,
            delivered: Counter::default(),
            duplicates: Counter::default(),
            receipts: Counter::default(),
            foreign: Counter::default(),
            queue_empty: Counter::default(),
            latency: Latencies::default(),
            errors: Arc::default(),
            progressed: tokio::sync::Notify::new(),
        })
    }

    /// Waits until `count` marked messages have been delivered; `false` on timeout.
    pub async fn wait_delivered(&self, count: u64, limit: std::time::Duration) -> bool {
        self.wait_for(&self.delivered, count, limit).await
    }

    /// Waits until `count` delivery receipts have arrived; `false` on timeout.
    pub async fn wait_receipts(&self, count: u64, limit: std::time::Duration) -> bool {
        self.wait_for(&self.receipts, count, limit).await
    }

    async fn wait_for(&self, counter: &Counter, count: u64, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.progressed.notified();
            if counter.get() >= count {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return counter.get() >= count;
            }
        }
    }

    /// The sequence number for message `n` of this scenario.
    pub fn seq(&self, n: u64) -> u64 {
        (u64::from(self.tag) << 48) | (n & ((1 << 48) - 1))
    }
}

/// Per-device push handler feeding a [`Measure`].
pub struct DeviceHandler {
    measure: Arc<Measure>,
    /// Marked messages this device received.
    pub delivered: Counter,
    /// Sequence numbers seen, to tell redeliveries apart (a multi-recipient message carries
    /// the same one to every member).
    seen: Mutex<HashSet<u64>>,
}

impl DeviceHandler {
    fn new(measure: Arc<Measure>) -> DeviceHandler {
        DeviceHandler {
            measure,
            delivered: Counter::default(),
            seen: Mutex::default(),
        }
    }
}

impl PushHandler for DeviceHandler {
    fn envelope(&self, envelope: Envelope, received: Instant) {
        let m = &self.measure;
        if envelope.r#type == Some(envelope::Type::ServerDeliveryReceipt as i32) {
            m.receipts.inc();
            m.progressed.notify_waiters();
            return;
        }
        let content = envelope.content.unwrap_or_default();
        match crate::payload::read(&content) {
            Some((seq, sent)) if (seq >> 48) as u16 == m.tag => {
                let first = self
                    .seen
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(seq);
                if first {
                    m.latency
                        .record_micros(micros_at(received).saturating_sub(sent));
                    m.delivered.inc();
                    self.delivered.inc();
                    m.progressed.notify_waiters();
                } else {
                    m.duplicates.inc();
                }
            }
            _ => m.foreign.inc(),
        }
    }

    fn queue_empty(&self) {
        self.measure.queue_empty.inc();
    }

    fn unexpected_close(&self, reason: &str) {
        self.measure.errors.add(format!("socket closed: {reason}"));
    }
}

/// A send to one recipient device, as JSON.
pub fn message_body(
    kind: i32,
    registration_id: u16,
    content: &[u8],
) -> heliograph_protocol::json::IncomingMessageList {
    use heliograph_protocol::json::{IncomingMessage, IncomingMessageList};
    IncomingMessageList {
        messages: vec![IncomingMessage {
            message_type: kind,
            destination_device_id: heliograph_types::DeviceId::PRIMARY,
            destination_registration_id: u32::from(registration_id),
            content: content.to_vec(),
        }],
        online: false,
        urgent: true,
        timestamp: wall_clock_ms(),
    }
}

/// Milliseconds since the Unix epoch (client timestamps).
pub fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What a scenario reports.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Parameters it ran with.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Figures, by name (units in the name).
    pub metrics: BTreeMap<String, f64>,
    /// Error counts by kind; any error fails the run.
    pub errors: BTreeMap<String, u64>,
    /// Why the scenario did not run, if it did not.
    pub skipped: Option<String>,
}

impl Report {
    /// An empty report.
    pub fn new(scenario: &str) -> Report {
        Report {
            scenario: scenario.to_owned(),
            params: BTreeMap::new(),
            metrics: BTreeMap::new(),
            errors: BTreeMap::new(),
            skipped: None,
        }
    }

    /// A scenario the target cannot run.
    pub fn skipped(scenario: &str, why: &str) -> Report {
        let mut r = Report::new(scenario);
        r.skipped = Some(why.to_owned());
        r
    }

    /// Records a parameter.
    pub fn param(&mut self, name: &str, value: impl Serialize) -> &mut Self {
        self.params.insert(
            name.to_owned(),
            serde_json::to_value(value).unwrap_or_default(),
        );
        self
    }

    /// Records a figure.
    pub fn metric(&mut self, name: &str, value: f64) -> &mut Self {
        self.metrics.insert(name.to_owned(), value);
        self
    }

    /// Records p50/p99/p99.9/max of a latency distribution as `{prefix}_p50_ms` etc.
    pub fn latency(&mut self, prefix: &str, l: &Latencies) -> &mut Self {
        let s = l.summary();
        self.metric(&format!("{prefix}_p50_ms"), s.p50_ms)
            .metric(&format!("{prefix}_p99_ms"), s.p99_ms)
            .metric(&format!("{prefix}_p999_ms"), s.p999_ms)
            .metric(&format!("{prefix}_max_ms"), s.max_ms)
    }

    /// Takes the error counts.
    pub fn errors_from(&mut self, e: &Errors) -> &mut Self {
        self.errors = e.by_kind();
        self
    }
}
