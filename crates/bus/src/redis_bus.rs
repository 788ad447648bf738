//! [`RedisBus`]: the bus of a cluster of stateless nodes sharing one Redis.
//!
//! # Design
//! Each node subscribes to exactly two channels on one pub/sub connection, and finds sockets
//! through presence keys with a TTL:
//!
//! | name | kind | content |
//! |---|---|---|
//! | `<ns>:presence:{<aci>}:<device>` | string, TTL | `<generation>\|<socket id>` of the device's socket |
//! | `<ns>:provisioning:<address>` | string, TTL | uuid of the node holding the provisioning socket |
//! | `<ns>:rate:<key>` | string, TTL | token bucket as a GCRA "theoretical arrival time" (µs of Redis time) |
//! | `<ns>:node:<node uuid>` | channel | messages for that node's sockets (wake, ephemeral, displace, provisioning) |
//! | `<ns>:broadcast` | channel | messages for all nodes (disconnect device / account) |
//!
//! A socket id is `<node uuid>.<counter>`, so the presence value says which node to publish to:
//! a wake-up costs a `GET` and a `PUBLISH` to one node, not a message to every node. The `{aci}`
//! hash tag keeps an account's keys in one slot (Redis Cluster friendly) so that
//! `disconnect_account` deletes all 127 possible device keys in one `DEL`.
//!
//! **Displacement.** Registration is one Lua script that reads the previous value and writes the
//! new one, so Redis totally orders the registrations of a device; the *generation* it assigns
//! is `max(Redis TIME in µs, previous generation + 1)`, increasing in that order (and across a
//! Redis restart, as it follows the clock). The node of the previous socket is told
//! `Displace{generation}` and closes every older socket of the device with 4409; a node
//! remembers that "floor" for a while, in case the displacement overtakes the recording of the
//! older registration. Locally, a socket is only recorded if no newer one is known, so two
//! simultaneous registrations (same node or not) always leave exactly the later one open.
//!
//! **Liveness.** Presence and provisioning keys expire after
//! [`RedisBusConfig::presence_ttl`]; a heartbeat task refreshes this node's keys every
//! [`RedisBusConfig::heartbeat_interval`] (and re-creates keys lost in a Redis restart, and closes
//! a local socket whose key now names a newer one, should a displacement message have been
//! lost). When a node dies, its presence disappears after the TTL. Commands go through a
//! [`ConnectionManager`], which reconnects by itself; the pub/sub task reconnects with backoff and
//! then wakes every local socket (a wake-up may have been missed while disconnected; a spurious
//! one only makes a socket re-read an unchanged queue) and runs the heartbeat at once.
//!
//! Pub/sub is at-most-once: a message published while a node is disconnected is lost. Stored
//! messages are never lost that way (sockets read their queue on connect and on every wake-up);
//! an ephemeral envelope can be, which is acceptable for what they carry.
//!
//! **Requirements.** Redis 5 or later (scripts call `TIME` before writing, which needs effects
//! replication, the default since 5.0); no modules. Every script touches one key and
//! `disconnect_account` deletes keys of one hash slot, so the layout is ready for Redis Cluster,
//! though this type connects to a single Redis (or a proxy in front of a cluster).
//!
//! **Lifecycle.** [`RedisBus::connect_with`] spawns two tasks on the current Tokio runtime (the
//! pub/sub reader and the heartbeat). [`RedisBus::shutdown`] stops them and removes this node's
//! keys; dropping the bus stops them without cleanup.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use heliograph_types::{Aci, DeviceId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::local::{LocalProvisioning, LocalSocket, LocalSockets};
use crate::rate::{self, GCRA_SCRIPT};
use crate::wire::NodeMessage;
use crate::{Bus, BusError, NodeId, RateLimitError, SocketEvent, SocketId, SocketRegistration};

/// Settings of a [`RedisBus`].
#[derive(Debug, Clone)]
pub struct RedisBusConfig {
    /// This node; must be unique in the cluster (a random one per process is the norm).
    pub node_id: NodeId,
    /// Prefix of every key and channel, so several clusters (or tests) can share one Redis.
    /// Must not be empty nor contain `{` or `}` (those would break the hash tags).
    pub namespace: String,
    /// How long presence survives without a heartbeat: a dead node's sockets stop counting as
    /// present after this.
    pub presence_ttl: Duration,
    /// How often this node refreshes its presence keys; well below `presence_ttl`.
    pub heartbeat_interval: Duration,
    /// Timeout of each Redis command and connection attempt.
    pub command_timeout: Duration,
}

impl RedisBusConfig {
    /// Defaults: namespace `heliograph`, presence TTL 30 s, heartbeat every 10 s, commands time
    /// out after 5 s.
    pub fn new(node_id: NodeId) -> Self {
        Self {
            node_id,
            namespace: "heliograph".to_owned(),
            presence_ttl: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(10),
            command_timeout: Duration::from_secs(5),
        }
    }

    fn validate(&self) -> Result<(), BusError> {
        if self.namespace.is_empty() || self.namespace.contains(['{', '}']) {
            return Err(BusError::Config(
                "the Redis namespace must be non-empty and contain neither '{' nor '}'".into(),
            ));
        }
        if self.presence_ttl < Duration::from_millis(10) {
            return Err(BusError::Config(
                "the presence TTL must be at least 10 ms".into(),
            ));
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.presence_ttl {
            return Err(BusError::Config(
                "the heartbeat interval must be positive and shorter than the presence TTL \
                 (a third of it is a good value)"
                    .into(),
            ));
        }
        if self.command_timeout.is_zero() {
            return Err(BusError::Config(
                "the Redis command timeout must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Registers a socket: returns `{generation, previous value or ''}`.
/// KEYS[1] presence key; ARGV[1] socket id, ARGV[2] TTL in ms.
const REGISTER_SCRIPT: &str = r"
local t = redis.call('TIME')
local gen = tonumber(t[1]) * 1000000 + tonumber(t[2])
local old = redis.call('GET', KEYS[1])
if old then
  local previous = tonumber(string.match(old, '^(%d+)|'))
  if previous and previous >= gen then gen = previous + 1 end
else
  old = ''
end
local g = string.format('%.0f', gen)
redis.call('SET', KEYS[1], g .. '|' .. ARGV[1], 'PX', ARGV[2])
return {g, old}
";

/// Deletes a key if it still holds the given value. KEYS[1]; ARGV[1] value.
const DELETE_IF_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Heartbeat of one socket: 1 refreshed, 2 re-created, 0 a newer socket owns the key.
/// KEYS[1] presence key; ARGV[1] our value, ARGV[2] TTL in ms, ARGV[3] our generation.
const REFRESH_SCRIPT: &str = r"
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if v then
  local other = tonumber(string.match(v, '^(%d+)|'))
  if other and other > tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 2
";

/// How many heartbeat scripts are in flight at once (the connection pipelines them).
const HEARTBEAT_CONCURRENCY: usize = 64;

/// Displacement floors are kept this long (they bridge a few milliseconds).
const FLOOR_AGE: Duration = Duration::from_secs(10);

/// Longest pause between pub/sub reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The bus of a multi-node deployment, on Redis. See the [module documentation](self) for the
/// design.
///
/// Dropping it stops its background tasks without cleaning up (like a crashed node: its
/// presence expires after the TTL); [`RedisBus::shutdown`] removes this node's presence first.
pub struct RedisBus {
    inner: Arc<Inner>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

struct Inner {
    config: RedisBusConfig,
    conn: ConnectionManager,
    sockets: LocalSockets,
    provisioning: LocalProvisioning,
    next: AtomicU64,
    node_channel: String,
    broadcast_channel: String,
    register: Script,
    delete_if: Script,
    refresh: Script,
    gcra: Script,
    heartbeat_now: Notify,
}

impl RedisBus {
    /// Connects with the default [`RedisBusConfig`] for this node.
    pub async fn connect(url: &str, node_id: NodeId) -> Result<RedisBus, BusError> {
        Self::connect_with(url, RedisBusConfig::new(node_id)).await
    }

    /// Connects, subscribes to this node's channels and starts the heartbeat. Fails if the
    /// configuration is invalid or Redis cannot be reached now; later outages are survived.
    pub async fn connect_with(url: &str, config: RedisBusConfig) -> Result<RedisBus, BusError> {
        config.validate()?;
        let client = Client::open(url)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(config.command_timeout)
            .set_response_timeout(config.command_timeout)
            .set_number_of_retries(2)
            .set_max_delay(1000);
        let conn = ConnectionManager::new_with_config(client.clone(), manager_config).await?;
        let ns = &config.namespace;
        let inner = Arc::new(Inner {
            node_channel: format!("{ns}:node:{}", config.node_id),
            broadcast_channel: format!("{ns}:broadcast"),
            config,
            conn,
            sockets: LocalSockets::default(),
            provisioning: LocalProvisioning::default(),
            next: AtomicU64::new(1),
            register: Script::new(REGISTER_SCRIPT),
            delete_if: Script::new(DELETE_IF_SCRIPT),
            refresh: Script::new(REFRESH_SCRIPT),
            gcra: Script::new(GCRA_SCRIPT),
            heartbeat_now: Notify::new(),
        });
        let (ready_tx, ready_rx) = oneshot::channel();
        let pubsub = tokio::spawn(Arc::clone(&inner).pubsub_loop(client, ready_tx));
        let heartbeat = tokio::spawn(Arc::clone(&inner).heartbeat_loop());
        let bus = RedisBus {
            inner,
            tasks: Mutex::new(vec![pubsub, heartbeat]),
        };
        // Until the subscription is confirmed, messages for this node would be lost.
        match ready_rx.await {
            Ok(Ok(())) => Ok(bus),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(BusError::Config("the pub/sub task ended".into())),
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.inner.config.node_id
    }

    /// Stops the background tasks and removes this node's presence and provisioning keys, so
    /// other nodes stop routing to it at once. Call it on graceful shutdown, once the node
    /// accepts no more sockets; the bus should not be used afterwards.
    pub async fn shutdown(&self) {
        self.stop_tasks();
        let inner = &self.inner;
        futures::stream::iter(inner.sockets.snapshot())
            .for_each_concurrent(HEARTBEAT_CONCURRENCY, |s| async move {
                inner.delete_presence(&s).await;
            })
            .await;
        let node = inner.config.node_id.to_string();
        for address in inner.provisioning.addresses() {
            inner
                .delete_if(&inner.provisioning_key(&address), &node)
                .await;
        }
    }

    fn stop_tasks(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        for task in tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

/// Parses a presence value `<generation>|<socket id>`.
fn parse_presence(value: &str) -> Option<(u64, SocketId)> {
    let (generation, id) = value.split_once('|')?;
    Some((generation.parse().ok()?, id.parse().ok()?))
}

fn presence_value(generation: u64, id: SocketId) -> String {
    format!("{generation}|{id}")
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Inner {
    fn presence_key(&self, aci: Aci, device: DeviceId) -> String {
        format!("{}:presence:{{{aci}}}:{device}", self.config.namespace)
    }

    fn provisioning_key(&self, address: &str) -> String {
        format!("{}:provisioning:{address}", self.config.namespace)
    }

    fn node_channel_of(&self, node: NodeId) -> String {
        format!("{}:node:{node}", self.config.namespace)
    }

    fn me(&self) -> NodeId {
        self.config.node_id
    }

    fn ttl_ms(&self) -> u64 {
        ttl_ms(self.config.presence_ttl)
    }

    /// Publishes; returns how many subscribers received the message.
    async fn publish(&self, channel: &str, message: &NodeMessage) -> Result<u64, BusError> {
        let mut conn = self.conn.clone();
        let receivers: u64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(message.encode())
            .query_async(&mut conn)
            .await?;
        Ok(receivers)
    }

    /// The device's socket according to Redis (`None` if absent or unreadable).
    async fn lookup(&self, aci: Aci, device: DeviceId) -> Result<Option<SocketId>, BusError> {
        let mut conn = self.conn.clone();
        let value: Option<String> = redis::cmd("GET")
            .arg(self.presence_key(aci, device))
            .query_async(&mut conn)
            .await?;
        Ok(value.as_deref().and_then(parse_presence).map(|(_, id)| id))
    }

    /// Sends to the node holding the device's socket, unless it is this node (whose local table
    /// was already consulted). Returns whether a node received it.
    async fn route(&self, aci: Aci, device: DeviceId, message: NodeMessage) -> bool {
        let result = async {
            match self.lookup(aci, device).await? {
                Some(id) if id.node() != self.me() => {
                    let receivers = self
                        .publish(&self.node_channel_of(id.node()), &message)
                        .await?;
                    Ok::<_, BusError>(receivers > 0)
                }
                _ => Ok(false),
            }
        }
        .await;
        result.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "bus: routing to a remote socket failed");
            false
        })
    }

    async fn delete_if(&self, key: &str, value: &str) {
        let mut conn = self.conn.clone();
        let result: Result<i64, _> = self
            .delete_if
            .key(key)
            .arg(value)
            .invoke_async(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "bus: removing a key failed");
        }
    }

    async fn delete_presence(&self, socket: &LocalSocket) {
        let key = self.presence_key(socket.aci, socket.device);
        self.delete_if(&key, &presence_value(socket.generation, socket.id))
            .await;
    }

    fn handle(&self, payload: &[u8]) {
        let Some(message) = NodeMessage::decode(payload) else {
            tracing::warn!(len = payload.len(), "bus: dropped a malformed node message");
            return;
        };
        match message {
            NodeMessage::Wake { aci, device } => {
                self.sockets.send(aci, device, SocketEvent::NewMessages);
            }
            NodeMessage::Ephemeral {
                aci,
                device,
                envelope,
            } => {
                self.sockets
                    .send(aci, device, SocketEvent::Ephemeral(envelope));
            }
            NodeMessage::Displace {
                aci,
                device,
                generation,
            } => self.sockets.displace_older(aci, device, generation),
            NodeMessage::Provisioning { address, body } => {
                self.provisioning.send(&address, body);
            }
            NodeMessage::DisconnectDevice {
                origin,
                aci,
                device,
            } => {
                if origin != self.me() {
                    if let Some(closed) =
                        self.sockets
                            .close_device(aci, device, None, SocketEvent::reauthenticate())
                    {
                        self.spawn_delete_presence(vec![closed]);
                    }
                }
            }
            NodeMessage::DisconnectAccount { origin, aci } => {
                if origin != self.me() {
                    let closed = self
                        .sockets
                        .close_account(aci, &SocketEvent::reauthenticate());
                    self.spawn_delete_presence(closed);
                }
            }
        }
    }

    /// Removes the keys of sockets closed on another node's request (a heartbeat may have
    /// re-created them since that node deleted them), without holding up the pub/sub reader.
    fn spawn_delete_presence(&self, closed: Vec<LocalSocket>) {
        if closed.is_empty() {
            return;
        }
        let conn = self.conn.clone();
        let script = self.delete_if.clone();
        let keys: Vec<(String, String)> = closed
            .iter()
            .map(|s| {
                (
                    self.presence_key(s.aci, s.device),
                    presence_value(s.generation, s.id),
                )
            })
            .collect();
        tokio::spawn(async move {
            for (key, value) in keys {
                let mut conn = conn.clone();
                let result: Result<i64, _> =
                    script.key(key).arg(value).invoke_async(&mut conn).await;
                if let Err(e) = result {
                    tracing::warn!(error = %e, "bus: removing a presence key failed");
                }
            }
        });
    }

    async fn pubsub_loop(
        self: Arc<Self>,
        client: Client,
        ready: oneshot::Sender<Result<(), redis::RedisError>>,
    ) {
        let mut ready = Some(ready);
        let mut backoff = Duration::from_millis(50);
        loop {
            let connected = async {
                let mut pubsub =
                    tokio::time::timeout(self.config.command_timeout, client.get_async_pubsub())
                        .await
                        .map_err(|_| {
                            redis::RedisError::from((
                                redis::ErrorKind::IoError,
                                "pub/sub connection timed out",
                            ))
                        })??;
                pubsub
                    .subscribe(&[&self.node_channel, &self.broadcast_channel])
                    .await?;
                Ok::<_, redis::RedisError>(pubsub)
            }
            .await;
            match connected {
                Ok(mut pubsub) => {
                    backoff = Duration::from_millis(50);
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Ok(()));
                    } else {
                        tracing::info!("bus: pub/sub reconnected");
                        self.sockets.broadcast(&SocketEvent::NewMessages);
                        self.heartbeat_now.notify_one();
                    }
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        self.handle(message.get_payload_bytes());
                    }
                    tracing::warn!("bus: pub/sub connection lost; reconnecting");
                }
                Err(e) => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Err(e));
                        return;
                    }
                    tracing::warn!(error = %e, "bus: pub/sub reconnection failed");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn heartbeat_loop(self: Arc<Self>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.config.heartbeat_interval) => {}
                () = self.heartbeat_now.notified() => {}
            }
            self.heartbeat().await;
        }
    }

    /// Refreshes (or re-creates) the keys of this node's sockets.
    async fn heartbeat(&self) {
        let ttl = self.ttl_ms();
        for abandoned in self.sockets.reap_abandoned() {
            self.delete_presence(&abandoned).await;
        }
        futures::stream::iter(self.sockets.snapshot())
            .for_each_concurrent(HEARTBEAT_CONCURRENCY, |s| async move {
                let mut conn = self.conn.clone();
                let result: Result<i64, _> = self
                    .refresh
                    .key(self.presence_key(s.aci, s.device))
                    .arg(presence_value(s.generation, s.id))
                    .arg(ttl)
                    .arg(s.generation)
                    .invoke_async(&mut conn)
                    .await;
                match result {
                    Ok(0) => {
                        // A newer socket registered and its displacement message was lost.
                        self.sockets.close_device(
                            s.aci,
                            s.device,
                            Some(s.id),
                            SocketEvent::displaced(),
                        );
                    }
                    Ok(2) if !self.sockets.holds(s.aci, s.device, s.id) => {
                        // Re-created the key of a socket that unregistered meanwhile.
                        self.delete_presence(&s).await;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "bus: presence heartbeat failed"),
                }
            })
            .await;
        let node = self.me().to_string();
        futures::stream::iter(self.provisioning.addresses())
            .for_each_concurrent(HEARTBEAT_CONCURRENCY, |address| {
                let node = node.clone();
                async move {
                    let mut conn = self.conn.clone();
                    let result: Result<(), _> = redis::cmd("SET")
                        .arg(self.provisioning_key(&address))
                        .arg(&node)
                        .arg("PX")
                        .arg(ttl)
                        .query_async(&mut conn)
                        .await;
                    match result {
                        Ok(()) if !self.provisioning.contains(&address) => {
                            // Unregistered meanwhile: remove what was just written.
                            self.delete_if(&self.provisioning_key(&address), &node)
                                .await;
                        }
                        Ok(()) => {}
                        Err(e) => tracing::warn!(error = %e, "bus: provisioning heartbeat failed"),
                    }
                }
            })
            .await;
        self.sockets.prune_floors(FLOOR_AGE);
    }
}

#[async_trait]
impl Bus for RedisBus {
    async fn register_socket(
        &self,
        aci: Aci,
        device: DeviceId,
    ) -> Result<SocketRegistration, BusError> {
        let inner = &*self.inner;
        let id = SocketId::new(inner.me(), inner.next.fetch_add(1, Ordering::Relaxed));
        let mut conn = inner.conn.clone();
        let (generation, previous): (String, String) = inner
            .register
            .key(inner.presence_key(aci, device))
            .arg(id.to_string())
            .arg(inner.ttl_ms())
            .invoke_async(&mut conn)
            .await?;
        let generation: u64 = generation.parse().map_err(|_| {
            BusError::Redis(redis::RedisError::from((
                redis::ErrorKind::TypeError,
                "registration script returned a malformed generation",
            )))
        })?;
        let events = inner.sockets.insert(aci, device, id, generation);
        if let Some((_, old)) = parse_presence(&previous) {
            if old.node() != inner.me() {
                let message = NodeMessage::Displace {
                    aci,
                    device,
                    generation,
                };
                if let Err(e) = inner
                    .publish(&inner.node_channel_of(old.node()), &message)
                    .await
                {
                    // The other node's heartbeat will notice the newer key and close it.
                    tracing::warn!(error = %e, "bus: displacement message failed");
                }
            }
        }
        Ok(SocketRegistration { id, events })
    }

    async fn unregister_socket(&self, aci: Aci, device: DeviceId, id: SocketId) {
        let inner = &*self.inner;
        if let Some(generation) = inner.sockets.remove(aci, device, id) {
            let socket = LocalSocket {
                aci,
                device,
                id,
                generation,
            };
            inner.delete_presence(&socket).await;
        }
    }

    async fn notify_new_messages(&self, aci: Aci, device: DeviceId) {
        let inner = &*self.inner;
        if !inner.sockets.send(aci, device, SocketEvent::NewMessages) {
            inner
                .route(aci, device, NodeMessage::Wake { aci, device })
                .await;
        }
    }

    async fn deliver_ephemeral(&self, aci: Aci, device: DeviceId, envelope: Vec<u8>) -> bool {
        let inner = &*self.inner;
        if inner
            .sockets
            .send(aci, device, SocketEvent::Ephemeral(envelope.clone()))
        {
            return true;
        }
        let message = NodeMessage::Ephemeral {
            aci,
            device,
            envelope,
        };
        inner.route(aci, device, message).await
    }

    async fn disconnect_device(&self, aci: Aci, device: DeviceId) {
        let inner = &*self.inner;
        inner
            .sockets
            .close_device(aci, device, None, SocketEvent::reauthenticate());
        let result = async {
            let mut conn = inner.conn.clone();
            let _: i64 = redis::cmd("DEL")
                .arg(inner.presence_key(aci, device))
                .query_async(&mut conn)
                .await?;
            let origin = inner.me();
            let message = NodeMessage::DisconnectDevice {
                origin,
                aci,
                device,
            };
            inner.publish(&inner.broadcast_channel, &message).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "bus: disconnecting a device failed");
        }
    }

    async fn disconnect_account(&self, aci: Aci) {
        let inner = &*self.inner;
        inner
            .sockets
            .close_account(aci, &SocketEvent::reauthenticate());
        let result = async {
            let mut conn = inner.conn.clone();
            let mut del = redis::cmd("DEL");
            for device in 1..=u32::from(DeviceId::MAX) {
                if let Ok(device) = DeviceId::new(device) {
                    del.arg(inner.presence_key(aci, device));
                }
            }
            let _: i64 = del.query_async(&mut conn).await?;
            let message = NodeMessage::DisconnectAccount {
                origin: inner.me(),
                aci,
            };
            inner.publish(&inner.broadcast_channel, &message).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "bus: disconnecting an account failed");
        }
    }

    async fn is_present(&self, aci: Aci, device: DeviceId) -> bool {
        let inner = &*self.inner;
        if inner.sockets.contains(aci, device) {
            return true;
        }
        match inner.lookup(aci, device).await {
            // A key naming a socket of this node that the local table does not hold is stale.
            Ok(found) => found.is_some_and(|id| id.node() != inner.me()),
            Err(e) => {
                tracing::warn!(error = %e, "bus: presence lookup failed");
                false
            }
        }
    }

    async fn register_provisioning(
        &self,
        address: &str,
    ) -> Result<UnboundedReceiver<Vec<u8>>, BusError> {
        let inner = &*self.inner;
        let rx = inner.provisioning.insert(address);
        let mut conn = inner.conn.clone();
        let result: Result<(), _> = redis::cmd("SET")
            .arg(inner.provisioning_key(address))
            .arg(inner.me().to_string())
            .arg("PX")
            .arg(inner.ttl_ms())
            .query_async(&mut conn)
            .await;
        if let Err(e) = result {
            inner.provisioning.remove(address);
            return Err(e.into());
        }
        Ok(rx)
    }

    async fn unregister_provisioning(&self, address: &str) {
        let inner = &*self.inner;
        if inner.provisioning.remove(address) {
            inner
                .delete_if(&inner.provisioning_key(address), &inner.me().to_string())
                .await;
        }
    }

    async fn send_provisioning(&self, address: &str, body: Vec<u8>) -> Result<bool, BusError> {
        let inner = &*self.inner;
        if inner.provisioning.send(address, body.clone()) {
            return Ok(true);
        }
        let mut conn = inner.conn.clone();
        let node: Option<String> = redis::cmd("GET")
            .arg(inner.provisioning_key(address))
            .query_async(&mut conn)
            .await?;
        let Some(node) = node
            .and_then(|n| Uuid::parse_str(&n).ok())
            .map(NodeId::from_uuid)
        else {
            return Ok(false);
        };
        if node == inner.me() {
            // A stale key of ours: the socket is gone.
            return Ok(false);
        }
        let message = NodeMessage::Provisioning {
            address: address.to_owned(),
            body,
        };
        let receivers = inner
            .publish(&inner.node_channel_of(node), &message)
            .await?;
        Ok(receivers > 0)
    }

    async fn take_permits(
        &self,
        key: &str,
        capacity: u64,
        regen: Duration,
        permits: u64,
    ) -> Result<(), RateLimitError> {
        if !rate::check(capacity, regen, permits)? {
            return Ok(());
        }
        let inner = &*self.inner;
        let interval_us = u64::try_from(regen.as_micros()).unwrap_or(u64::MAX).max(1);
        let mut conn = inner.conn.clone();
        let wait_us: i64 = inner
            .gcra
            .key(format!("{}:rate:{key}", inner.config.namespace))
            .arg(interval_us)
            .arg(capacity)
            .arg(permits)
            .invoke_async(&mut conn)
            .await
            .map_err(BusError::from)?;
        if wait_us <= 0 {
            return Ok(());
        }
        Err(RateLimitError::RateLimited {
            retry_after: Duration::from_micros(wait_us.unsigned_abs()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_values_parse_or_are_rejected() {
        let id = SocketId::new(NodeId::random(), 7);
        assert_eq!(parse_presence(&presence_value(12, id)), Some((12, id)));
        for bad in ["", "|", "12|", "x|y", "12|nope", "-1|a.b"] {
            assert_eq!(parse_presence(bad), None, "{bad}");
        }
    }

    #[test]
    fn config_is_validated() {
        let ok = RedisBusConfig::new(NodeId::random());
        assert!(ok.validate().is_ok());
        let mut bad = ok.clone();
        bad.namespace = "a{b".into();
        assert!(bad.validate().is_err());
        let mut bad = ok.clone();
        bad.heartbeat_interval = bad.presence_ttl;
        assert!(bad.validate().is_err());
        let mut bad = ok;
        bad.namespace.clear();
        assert!(bad.validate().is_err());
    }
}
