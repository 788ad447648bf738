//! [`InProcessBus`]: the single-node bus, with every table in this process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use heliograph_types::{Aci, DeviceId};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::local::{LocalProvisioning, LocalSockets};
use crate::rate::LocalLimiter;
use crate::{Bus, BusError, NodeId, RateLimitError, SocketEvent, SocketId, SocketRegistration};

/// The bus of a single node (the default). Registrations are ordered by a counter taken under
/// the table lock, so the last registration of a device always wins.
pub struct InProcessBus {
    node: NodeId,
    next: AtomicU64,
    sockets: LocalSockets,
    provisioning: LocalProvisioning,
    limiter: LocalLimiter,
}

impl InProcessBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self {
            node: NodeId::random(),
            next: AtomicU64::new(1),
            sockets: LocalSockets::default(),
            provisioning: LocalProvisioning::default(),
            limiter: LocalLimiter::new(),
        }
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn register_socket(
        &self,
        aci: Aci,
        device: DeviceId,
    ) -> Result<SocketRegistration, BusError> {
        // The id doubles as the generation. Two racing registrations may insert in the opposite
        // order of their counters; the lower one then finds the higher and closes itself, so the
        // later counter wins either way.
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let id = SocketId::new(self.node, seq);
        let events = self.sockets.insert(aci, device, id, seq);
        Ok(SocketRegistration { id, events })
    }

    async fn unregister_socket(&self, aci: Aci, device: DeviceId, id: SocketId) {
        self.sockets.remove(aci, device, id);
    }

    async fn notify_new_messages(&self, aci: Aci, device: DeviceId) {
        self.sockets.send(aci, device, SocketEvent::NewMessages);
    }

    async fn deliver_ephemeral(&self, aci: Aci, device: DeviceId, envelope: Vec<u8>) -> bool {
        self.sockets
            .send(aci, device, SocketEvent::Ephemeral(envelope))
    }

    async fn disconnect_device(&self, aci: Aci, device: DeviceId) {
        self.sockets
            .close_device(aci, device, None, SocketEvent::reauthenticate());
    }

    async fn disconnect_account(&self, aci: Aci) {
        self.sockets
            .close_account(aci, &SocketEvent::reauthenticate());
    }

    async fn is_present(&self, aci: Aci, device: DeviceId) -> bool {
        self.sockets.contains(aci, device)
    }

    async fn register_provisioning(
        &self,
        address: &str,
    ) -> Result<UnboundedReceiver<Vec<u8>>, BusError> {
        Ok(self.provisioning.insert(address))
    }

    async fn unregister_provisioning(&self, address: &str) {
        self.provisioning.remove(address);
    }

    async fn send_provisioning(&self, address: &str, body: Vec<u8>) -> Result<bool, BusError> {
        Ok(self.provisioning.send(address, body))
    }

    async fn take_permits(
        &self,
        key: &str,
        capacity: u64,
        regen: Duration,
        permits: u64,
    ) -> Result<(), RateLimitError> {
        self.limiter.take(key, capacity, regen, permits)
    }
}
