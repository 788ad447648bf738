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
pub mod limits;
pub mod linking;
pub mod messages;
pub mod multi_recipient;
pub mod profiles;
pub mod registration;
pub mod usernames;
pub mod zk;

use std::sync::Arc;

pub use error::{ChatError, ChatResult, SessionRejection};
use heliograph_storage::Stores;
use heliograph_types::{Aci, DeviceId};

/// Notified when devices must lose their live connections (re-registration, account or
/// device deletion), wherever those connections are.
#[async_trait::async_trait]
pub trait Disconnector: Send + Sync {
    /// Closes every connection of the account ("reauthentication required").
    async fn disconnect_account(&self, aci: Aci);
    /// Closes every connection of one device.
    async fn disconnect_device(&self, aci: Aci, device: DeviceId);
}

/// A [`Disconnector`] that does nothing, for tests and tools without live connections.
pub struct NoDisconnect;

#[async_trait::async_trait]
impl Disconnector for NoDisconnect {
    async fn disconnect_account(&self, _aci: Aci) {}
    async fn disconnect_device(&self, _aci: Aci, _device: DeviceId) {}
}

/// Connects the domain's notification hooks to the bus (in-process or Redis), which reaches
/// sockets on every node.
pub struct BusLink(pub Arc<dyn heliograph_bus::Bus>);

#[async_trait::async_trait]
impl Disconnector for BusLink {
    async fn disconnect_account(&self, aci: Aci) {
        self.0.disconnect_account(aci).await;
    }
    async fn disconnect_device(&self, aci: Aci, device: DeviceId) {
        self.0.disconnect_device(aci, device).await;
    }
}

#[async_trait::async_trait]
impl messages::Notifier for BusLink {
    async fn new_messages(&self, aci: Aci, device: DeviceId) {
        self.0.notify_new_messages(aci, device).await;
    }
    async fn deliver_ephemeral(&self, aci: Aci, device: DeviceId, envelope: Vec<u8>) -> bool {
        self.0.deliver_ephemeral(aci, device, envelope).await
    }
}

/// What every service needs: the stores, the clock, the disconnect hook and the avatar
/// storage (account deletion and profile updates remove avatar objects).
#[derive(Clone)]
pub struct Deps {
    /// The stores.
    pub stores: Stores,
    /// Time source.
    pub clock: Arc<dyn clock::Clock>,
    /// Hook to drop live connections.
    pub disconnector: Arc<dyn Disconnector>,
    /// The profile CDN's avatar objects.
    pub avatars: Arc<dyn profiles::AvatarStorage>,
    /// Rate limits (token buckets shared through the bus).
    pub limits: Arc<limits::RateLimiters>,
}
