//! Shared state of every route and socket.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::Router;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use heliograph_bus::Bus;
use heliograph_chat::certificates::CertificateIssuer;
use heliograph_chat::linking::Linking;
use heliograph_chat::messages::Messages;
use heliograph_chat::registration::Registration;
use heliograph_chat::zk::ZkService;
use heliograph_chat::Deps;

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
    /// Device linking and management.
    pub linking: Linking,
    /// Presence, wake-ups and disconnects across nodes (in-process or Redis).
    pub bus: Arc<dyn Bus>,
    /// Cancelled when the server shuts down; sockets then close with 1001.
    pub shutdown: CancellationToken,
    /// Tracks socket tasks so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// Static `/v2/config` entries.
    pub remote_config: BTreeMap<String, String>,
    /// Blob storage and the attachments/avatars CDN (upload forms, avatar deletion).
    pub cdn: heliograph_cdn::Cdn,
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
    /// Stores and clock; its disconnector should reach `bus`.
    pub deps: Deps,
    /// Registration service.
    pub registration: Registration,
    /// Messaging service (its notifier should reach `bus`).
    pub messages: Messages,
    /// Sealed-sender certificate issuer.
    pub certificates: Arc<CertificateIssuer>,
    /// zkgroup credentials and group send tokens.
    pub zk: Arc<ZkService>,
    /// Device linking and management.
    pub linking: Linking,
    /// The bus.
    pub bus: Arc<dyn Bus>,
    /// Shutdown signal.
    pub shutdown: CancellationToken,
    /// `/v2/config` entries.
    pub remote_config: BTreeMap<String, String>,
    /// Blob storage and the CDN.
    pub cdn: heliograph_cdn::Cdn,
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
            linking: parts.linking,
            bus: parts.bus,
            shutdown: parts.shutdown,
            tasks: TaskTracker::new(),
            remote_config: parts.remote_config,
            cdn: parts.cdn,
            dispatch: OnceLock::new(),
        }))
    }

    /// The router requests tunnelled through WebSockets go to.
    pub fn dispatch_router(&self) -> Option<Router> {
        self.dispatch.get().cloned()
    }
}
