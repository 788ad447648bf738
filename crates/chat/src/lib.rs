//! Heliograph's domain services: registration, accounts, prekeys and (later) messages and
//! certificates. They take store traits and plain inputs; they know nothing about HTTP, gRPC
//! or WebSockets, so the REST routes and the gRPC services share one implementation.

pub mod accounts;
pub mod auth;
pub mod certificates;
pub mod clock;
pub mod codes;
pub mod devices;
mod error;
pub mod keys;
pub mod messages;
pub mod multi_recipient;
pub mod registration;
pub mod zk;

use std::sync::Arc;

pub use error::{ChatError, ChatResult, SessionRejection};
use heliograph_storage::Stores;
use heliograph_types::{Aci, DeviceId};

/// Notified when devices must lose their live connections (re-registration, account or
/// device deletion). The API layer implements it with its connection registry.
pub trait Disconnector: Send + Sync {
    /// Closes every connection of the account ("reauthentication required").
    fn disconnect_account(&self, aci: Aci);
    /// Closes every connection of one device.
    fn disconnect_device(&self, aci: Aci, device: DeviceId);
}

/// A [`Disconnector`] that does nothing, for tests and tools without live connections.
pub struct NoDisconnect;

impl Disconnector for NoDisconnect {
    fn disconnect_account(&self, _aci: Aci) {}
    fn disconnect_device(&self, _aci: Aci, _device: DeviceId) {}
}

/// What every service needs: the stores, the clock and the disconnect hook.
#[derive(Clone)]
pub struct Deps {
    /// The stores.
    pub stores: Stores,
    /// Time source.
    pub clock: Arc<dyn clock::Clock>,
    /// Hook to drop live connections.
    pub disconnector: Arc<dyn Disconnector>,
}
