//! Shared state of every route and socket.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use heliograph_chat::certificates::CertificateIssuer;
use heliograph_chat::messages::Messages;
use heliograph_chat::registration::Registration;
use heliograph_chat::zk::ZkService;
use heliograph_chat::{Deps, Disconnector};
use heliograph_types::{Aci, DeviceId};

/// Everything handlers need. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The contents of [`AppState`].
pub struct Inner {
    /// Stores, clock and disconnect hook.
    pub deps: Deps,
    /// Registration service.
    pub registration: Registration,
    /// Messaging service.
    pub messages: Messages,
    /// Sealed-sender certificate issuer.
    pub certificates: Arc<CertificateIssuer>,
    /// zkgroup credentials and group send tokens.
    pub zk: Arc<ZkService>,
    /// Live sockets on this node.
    pub connections: Arc<Connections>,
    /// Cancelled when the server shuts down; sockets then close with 1001.
    pub shutdown: CancellationToken,
    /// Tracks socket tasks so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// Static `/v2/config` entries.
    pub remote_config: BTreeMap<String, String>,
    /// The finished router, used to dispatch requests tunnelled through WebSockets.
    pub(crate) dispatch: OnceLock<Router>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Parts the server assembles into an [`AppState`].
pub struct StateParts {
    /// Stores and clock; its disconnector should be `connections`.
    pub deps: Deps,
    /// Registration service.
    pub registration: Registration,
    /// Messaging service (its notifier should be `connections`).
    pub messages: Messages,
    /// Sealed-sender certificate issuer.
    pub certificates: Arc<CertificateIssuer>,
    /// zkgroup credentials and group send tokens.
    pub zk: Arc<ZkService>,
    /// The connection registry (also installed as `deps.disconnector`).
    pub connections: Arc<Connections>,
    /// Shutdown signal.
    pub shutdown: CancellationToken,
    /// `/v2/config` entries.
    pub remote_config: BTreeMap<String, String>,
}

impl AppState {
    /// Builds the state.
    pub fn new(parts: StateParts) -> Self {
        AppState(Arc::new(Inner {
            deps: parts.deps,
            registration: parts.registration,
            messages: parts.messages,
            certificates: parts.certificates,
            zk: parts.zk,
            connections: parts.connections,
            shutdown: parts.shutdown,
            tasks: TaskTracker::new(),
            remote_config: parts.remote_config,
            dispatch: OnceLock::new(),
        }))
    }

    /// The router requests tunnelled through WebSockets go to.
    pub fn dispatch_router(&self) -> Option<Router> {
        self.dispatch.get().cloned()
    }
}

/// What a socket task can be told to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketCommand {
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// New messages are queued for the device.
    NewMessages,
    /// An ephemeral envelope to push now (never stored).
    Ephemeral(Vec<u8>),
}

struct Entry {
    id: u64,
    tx: mpsc::UnboundedSender<SocketCommand>,
}

/// The authenticated, message-receiving sockets of this node, one per device. A newer socket
/// for the same device displaces the older one, which is closed with 4409.
#[derive(Default)]
pub struct Connections {
    next_id: std::sync::atomic::AtomicU64,
    sockets: Mutex<HashMap<(Aci, DeviceId), Entry>>,
}

/// A registered socket: its id (for unregistering) and its command channel.
pub struct Registered {
    /// Registration id.
    pub id: u64,
    /// Commands for the socket task.
    pub rx: mpsc::UnboundedReceiver<SocketCommand>,
}

/// Close code: another socket for the same device took over.
pub const CLOSE_CONNECTED_ELSEWHERE: u16 = 4409;
/// Close code: the device must authenticate again (removed, re-registered, deleted).
pub const CLOSE_REAUTH: u16 = 4401;

impl Connections {
    /// Registers the socket of a device, displacing any older one with 4409.
    pub fn register(&self, aci: Aci, device: DeviceId) -> Registered {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let old = self
            .sockets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((aci, device), Entry { id, tx });
        if let Some(old) = old {
            let _ = old.tx.send(SocketCommand::Close(
                CLOSE_CONNECTED_ELSEWHERE,
                "Connected elsewhere",
            ));
        }
        Registered { id, rx }
    }

    /// Removes a socket if it is still the registered one.
    pub fn unregister(&self, aci: Aci, device: DeviceId, id: u64) {
        let mut map = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&(aci, device)).is_some_and(|e| e.id == id) {
            map.remove(&(aci, device));
        }
    }

    /// Whether a device has a socket on this node.
    pub fn is_connected(&self, aci: Aci, device: DeviceId) -> bool {
        self.sockets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&(aci, device))
    }

    /// Sends a command to a device's socket; returns whether one was there.
    pub fn send(&self, aci: Aci, device: DeviceId, cmd: SocketCommand) -> bool {
        let map = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(aci, device))
            .is_some_and(|e| e.tx.send(cmd).is_ok())
    }

    /// How many sockets are registered.
    pub fn len(&self) -> usize {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no socket is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl heliograph_chat::messages::Notifier for Connections {
    fn new_messages(&self, aci: Aci, device: DeviceId) {
        self.send(aci, device, SocketCommand::NewMessages);
    }

    fn deliver_ephemeral(&self, aci: Aci, device: DeviceId, envelope: Vec<u8>) -> bool {
        self.send(aci, device, SocketCommand::Ephemeral(envelope))
    }
}

impl Disconnector for Connections {
    fn disconnect_account(&self, aci: Aci) {
        let map = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        for ((a, _), entry) in map.iter() {
            if *a == aci {
                let _ = entry.tx.send(SocketCommand::Close(
                    CLOSE_REAUTH,
                    "Reauthentication required",
                ));
            }
        }
    }

    fn disconnect_device(&self, aci: Aci, device: DeviceId) {
        self.send(
            aci,
            device,
            SocketCommand::Close(CLOSE_REAUTH, "Reauthentication required"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_socket_displaces_older() {
        let c = Connections::default();
        let aci = Aci::random();
        let mut first = c.register(aci, DeviceId::PRIMARY);
        let second = c.register(aci, DeviceId::PRIMARY);
        assert_eq!(
            first.rx.try_recv().unwrap(),
            SocketCommand::Close(4409, "Connected elsewhere")
        );
        c.unregister(aci, DeviceId::PRIMARY, first.id);
        assert!(
            c.is_connected(aci, DeviceId::PRIMARY),
            "the old socket cannot unregister the new one"
        );
        c.unregister(aci, DeviceId::PRIMARY, second.id);
        assert!(c.is_empty());
    }

    #[test]
    fn account_disconnect_reaches_every_device() {
        let c = Connections::default();
        let aci = Aci::random();
        let mut a = c.register(aci, DeviceId::PRIMARY);
        let mut b = c.register(aci, DeviceId::new(2).unwrap());
        let mut other = c.register(Aci::random(), DeviceId::PRIMARY);
        c.disconnect_account(aci);
        assert_eq!(
            a.rx.try_recv().unwrap(),
            SocketCommand::Close(4401, "Reauthentication required")
        );
        assert_eq!(
            b.rx.try_recv().unwrap(),
            SocketCommand::Close(4401, "Reauthentication required")
        );
        assert!(other.rx.try_recv().is_err());
    }
}
