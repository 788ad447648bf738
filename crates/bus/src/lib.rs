//! The message bus: which device sockets are connected where, waking them up when messages
//! arrive, displacing an older socket of the same device, relaying provisioning envelopes and
//! counting rate-limit permits, for one node or for several nodes that share a Redis.
//!
//! Two backends implement the [`Bus`] trait:
//! - [`InProcessBus`] (the default): everything in this process, for a single node;
//! - [`RedisBus`]: several stateless nodes sharing one Redis (design in [`redis_bus`]).
//!
//! A socket task uses the bus like this: [`Bus::register_socket`] when the WebSocket is
//! authenticated, *then* drain the device's queue, then loop on
//! [`SocketRegistration::events`]; on [`SocketEvent::NewMessages`] drain the queue again, on
//! [`SocketEvent::Close`] close the WebSocket with that code; when the socket ends for any
//! reason call [`Bus::unregister_socket`] with its [`SocketId`]. When the event channel yields
//! `None` the bus has forgotten the socket (it was closed through the bus).
//!
//! ```
//! use heliograph_bus::{Bus, InProcessBus, SocketEvent};
//! use heliograph_types::{Aci, DeviceId};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), heliograph_bus::BusError> {
//! let bus = InProcessBus::new();
//! let (aci, device) = (Aci::random(), DeviceId::PRIMARY);
//! let mut socket = bus.register_socket(aci, device).await?;
//! // ... drain the queue once, then:
//! bus.notify_new_messages(aci, device).await; // from the sending side, on any node
//! while let Some(event) = socket.events.recv().await {
//!     match event {
//!         SocketEvent::NewMessages => { /* drain the queue */ break }
//!         SocketEvent::Ephemeral(envelope) => { /* push it */ }
//!         SocketEvent::Close { code, reason } => { /* close the WebSocket */ }
//!     }
//! }
//! bus.unregister_socket(aci, device, socket.id).await;
//! # Ok(())
//! # }
//! ```

mod local;
mod memory;
mod rate;
pub mod redis_bus;
mod wire;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use heliograph_types::{Aci, DeviceId};
use tokio::sync::mpsc::UnboundedReceiver;
use uuid::Uuid;

pub use memory::InProcessBus;
pub use redis_bus::{RedisBus, RedisBusConfig};

/// WebSocket close code for a socket displaced by a newer socket of the same device.
pub const CLOSE_CONNECTED_ELSEWHERE: u16 = 4409;
/// Close reason sent with [`CLOSE_CONNECTED_ELSEWHERE`].
pub const REASON_CONNECTED_ELSEWHERE: &str = "Connected elsewhere";
/// WebSocket close code for a socket whose device or account credentials are no longer valid.
pub const CLOSE_REAUTHENTICATE: u16 = 4401;
/// Close reason sent with [`CLOSE_REAUTHENTICATE`].
pub const REASON_REAUTHENTICATE: &str = "Reauthentication required";

/// What a connected message socket can be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    /// New messages are queued for this device: read the queue.
    NewMessages,
    /// An ephemeral envelope (typing indicator, call signal...) to push now; it is never stored.
    Ephemeral(Vec<u8>),
    /// Close the WebSocket with this code and reason. After this event the bus has forgotten the
    /// socket and the channel ends.
    Close {
        /// [`CLOSE_CONNECTED_ELSEWHERE`] or [`CLOSE_REAUTHENTICATE`].
        code: u16,
        /// The matching `REASON_*` text.
        reason: String,
    },
}

impl SocketEvent {
    /// `Close{4409, "Connected elsewhere"}`: a newer socket of the same device took over.
    pub fn displaced() -> Self {
        SocketEvent::Close {
            code: CLOSE_CONNECTED_ELSEWHERE,
            reason: REASON_CONNECTED_ELSEWHERE.to_owned(),
        }
    }

    /// `Close{4401, "Reauthentication required"}`: the device or account was removed or its
    /// credentials changed.
    pub fn reauthenticate() -> Self {
        SocketEvent::Close {
            code: CLOSE_REAUTHENTICATE,
            reason: REASON_REAUTHENTICATE.to_owned(),
        }
    }
}

/// Identifies one server node (one process) of a cluster. Random per process start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(Uuid);

impl NodeId {
    /// A fresh random node id.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// Wraps a UUID (for example one given in the configuration).
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The underlying UUID.
    pub const fn uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Identifies one registered message socket, unique cluster-wide: the node it lives on and a
/// per-node counter. Written `<node uuid>.<counter>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId {
    node: NodeId,
    seq: u64,
}

impl SocketId {
    pub(crate) const fn new(node: NodeId, seq: u64) -> Self {
        Self { node, seq }
    }

    /// The node that holds the socket.
    pub const fn node(&self) -> NodeId {
        self.node
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.node, self.seq)
    }
}

/// Why a [`SocketId`] could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a socket id")]
pub struct SocketIdError;

impl FromStr for SocketId {
    type Err = SocketIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (node, seq) = s.split_once('.').ok_or(SocketIdError)?;
        let node = Uuid::parse_str(node).map_err(|_| SocketIdError)?;
        let seq = seq.parse().map_err(|_| SocketIdError)?;
        Ok(Self::new(NodeId(node), seq))
    }
}

/// A message socket registered with the bus.
#[derive(Debug)]
pub struct SocketRegistration {
    /// Pass this to [`Bus::unregister_socket`] when the socket ends.
    pub id: SocketId,
    /// Events for this socket; `None` once the bus has closed it (after a
    /// [`SocketEvent::Close`]).
    pub events: UnboundedReceiver<SocketEvent>,
}

/// A failure of the shared backend.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Redis refused or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The configuration cannot work (the message says how to fix it).
    #[error("invalid bus configuration: {0}")]
    Config(String),
}

/// Why [`Bus::take_permits`] did not grant the permits.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// Not enough permits now; enough will have regenerated after `retry_after`
    /// (the HTTP layer answers 429 with `Retry-After`).
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// How long until the request would be allowed (if nobody else takes permits).
        retry_after: Duration,
    },
    /// More permits were asked for than the bucket can ever hold: never allowed.
    #[error("{permits} permits asked from a bucket of {capacity}")]
    ExceedsCapacity {
        /// Permits asked for.
        permits: u64,
        /// Size of the bucket.
        capacity: u64,
    },
    /// The shared counter could not be reached; the caller chooses to fail open or closed.
    #[error(transparent)]
    Backend(#[from] BusError),
}

/// Presence, wake-ups, displacement, provisioning relay and rate limits, for one node or a
/// cluster. Methods without a `Result` are best effort: backend failures are logged.
#[async_trait]
pub trait Bus: Send + Sync {
    /// A device's message socket opened on this node. Any other socket of the same
    /// (aci, device), on this node or any other, gets [`SocketEvent::displaced`].
    ///
    /// Tie-break: registrations of one device are totally ordered by the backend (the
    /// in-process lock, or the order in which Redis runs the registration script); the last one
    /// in that order wins and every earlier one is displaced, even when two register at once.
    async fn register_socket(
        &self,
        aci: Aci,
        device: DeviceId,
    ) -> Result<SocketRegistration, BusError>;

    /// The socket closed. Does nothing if a newer socket of the device has replaced it.
    async fn unregister_socket(&self, aci: Aci, device: DeviceId, id: SocketId);

    /// New stored messages for a device: wake its socket wherever it is (no-op if none).
    async fn notify_new_messages(&self, aci: Aci, device: DeviceId);

    /// Pushes an ephemeral envelope to the device's socket if one is connected anywhere;
    /// returns whether one was (best effort across nodes: `true` means it was handed to the
    /// node that holds the socket).
    async fn deliver_ephemeral(&self, aci: Aci, device: DeviceId, envelope: Vec<u8>) -> bool;

    /// Closes the device's socket everywhere with [`SocketEvent::reauthenticate`] (device
    /// removed, credentials changed).
    async fn disconnect_device(&self, aci: Aci, device: DeviceId);

    /// Closes every socket of the account everywhere with [`SocketEvent::reauthenticate`]
    /// (account re-registered or deleted).
    async fn disconnect_account(&self, aci: Aci);

    /// Whether the device has a message socket on any node.
    async fn is_present(&self, aci: Aci, device: DeviceId) -> bool;

    /// A provisioning socket with this address opened on this node; the receiver yields the
    /// provisioning envelopes sent to the address from any node. A second registration of the
    /// same address replaces the first (whose receiver then ends).
    async fn register_provisioning(
        &self,
        address: &str,
    ) -> Result<UnboundedReceiver<Vec<u8>>, BusError>;

    /// The provisioning socket with this address closed.
    async fn unregister_provisioning(&self, address: &str);

    /// Relays a provisioning envelope to the socket with this address wherever it is:
    /// `Ok(true)` if it was handed to a listening socket (or its node), `Ok(false)` if none is
    /// listening (the caller answers 404).
    async fn send_provisioning(&self, address: &str, body: Vec<u8>) -> Result<bool, BusError>;

    /// Token bucket shared by all nodes: takes `permits` from bucket `key`, which holds at most
    /// `capacity` permits and regains one every `regen`. Atomic under concurrency. Taking 0
    /// permits always succeeds; a `regen` of zero means the bucket never runs dry.
    async fn take_permits(
        &self,
        key: &str,
        capacity: u64,
        regen: Duration,
        permits: u64,
    ) -> Result<(), RateLimitError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_id_round_trips() {
        let id = SocketId::new(NodeId::random(), 42);
        assert_eq!(id.to_string().parse::<SocketId>(), Ok(id));
        for bad in [
            "",
            "x.1",
            "0.1",
            ".",
            "7f0c6ad0-0000-4000-8000-000000000000.-1",
        ] {
            assert!(bad.parse::<SocketId>().is_err(), "{bad}");
        }
    }
}
