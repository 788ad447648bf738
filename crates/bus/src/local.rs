//! The sockets held by this node: message sockets per (account, device) and provisioning
//! sockets per address. Both backends keep their own node's sockets here; the Redis backend adds
//! the cluster-wide view on top.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use heliograph_types::{Aci, DeviceId};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::{SocketEvent, SocketId};

/// Locks a mutex, ignoring poisoning: the tables stay consistent after any single operation, so
/// a panic elsewhere must not take the bus down.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One live message socket.
struct Socket {
    id: SocketId,
    /// Registration order of the device's sockets (higher is newer).
    generation: u64,
    tx: UnboundedSender<SocketEvent>,
}

/// What this node knows about one device.
#[derive(Default)]
struct Slot {
    socket: Option<Socket>,
    /// Sockets of this device with a lower generation have been displaced. Remembered because
    /// a displacement can arrive from another node before the displaced registration has been
    /// recorded here.
    floor: u64,
    floor_since: Option<Instant>,
}

impl Slot {
    fn is_empty(&self) -> bool {
        self.socket.is_none() && self.floor_since.is_none()
    }
}

/// A snapshot of one local socket, for the presence heartbeat.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalSocket {
    pub aci: Aci,
    pub device: DeviceId,
    pub id: SocketId,
    pub generation: u64,
}

/// The message sockets of this node.
#[derive(Default)]
pub(crate) struct LocalSockets {
    accounts: Mutex<HashMap<Aci, HashMap<DeviceId, Slot>>>,
}

impl LocalSockets {
    /// Records a socket with its generation. An older local socket of the device is displaced;
    /// if this one is itself older than what is known (a newer socket exists or displaced it
    /// already), the returned channel yields only the displacement.
    pub fn insert(
        &self,
        aci: Aci,
        device: DeviceId,
        id: SocketId,
        generation: u64,
    ) -> UnboundedReceiver<SocketEvent> {
        let (tx, rx) = unbounded_channel();
        let mut accounts = lock(&self.accounts);
        let slot = accounts.entry(aci).or_default().entry(device).or_default();
        let outdated = generation < slot.floor
            || slot
                .socket
                .as_ref()
                .is_some_and(|s| s.generation > generation);
        if outdated {
            // The receiver is still alive: this send cannot fail.
            let _ = tx.send(SocketEvent::displaced());
            return rx;
        }
        let new = Socket { id, generation, tx };
        if let Some(old) = slot.socket.replace(new) {
            let _ = old.tx.send(SocketEvent::displaced());
        }
        rx
    }

    /// Forgets the socket if it is still the device's socket here; returns its generation.
    pub fn remove(&self, aci: Aci, device: DeviceId, id: SocketId) -> Option<u64> {
        let mut accounts = lock(&self.accounts);
        let slot = accounts.get_mut(&aci)?.get_mut(&device)?;
        if slot.socket.as_ref().is_some_and(|s| s.id == id) {
            let generation = slot.socket.take().map(|s| s.generation);
            Self::tidy(&mut accounts, aci, device);
            return generation;
        }
        None
    }

    /// A newer socket with `generation` exists elsewhere: closes every older socket of the
    /// device here, now or when it is recorded later.
    pub fn displace_older(&self, aci: Aci, device: DeviceId, generation: u64) {
        let mut accounts = lock(&self.accounts);
        let slot = accounts.entry(aci).or_default().entry(device).or_default();
        if generation > slot.floor {
            slot.floor = generation;
            slot.floor_since = Some(Instant::now());
        }
        if slot
            .socket
            .as_ref()
            .is_some_and(|s| s.generation < generation)
        {
            if let Some(old) = slot.socket.take() {
                let _ = old.tx.send(SocketEvent::displaced());
            }
        }
    }

    /// Closes the device's socket here, if it is `only` (or any socket when `only` is `None`);
    /// returns what was closed.
    pub fn close_device(
        &self,
        aci: Aci,
        device: DeviceId,
        only: Option<SocketId>,
        event: SocketEvent,
    ) -> Option<LocalSocket> {
        let mut accounts = lock(&self.accounts);
        let slot = accounts.get_mut(&aci)?.get_mut(&device)?;
        let current = slot.socket.as_ref()?.id;
        if only.is_some_and(|id| id != current) {
            return None;
        }
        let old = slot.socket.take()?;
        let _ = old.tx.send(event);
        Self::tidy(&mut accounts, aci, device);
        Some(LocalSocket {
            aci,
            device,
            id: old.id,
            generation: old.generation,
        })
    }

    /// Closes every socket of the account here; returns what was closed.
    pub fn close_account(&self, aci: Aci, event: &SocketEvent) -> Vec<LocalSocket> {
        let mut accounts = lock(&self.accounts);
        let mut closed = Vec::new();
        if let Some(devices) = accounts.get_mut(&aci) {
            for (device, slot) in devices.iter_mut() {
                if let Some(old) = slot.socket.take() {
                    let _ = old.tx.send(event.clone());
                    closed.push(LocalSocket {
                        aci,
                        device: *device,
                        id: old.id,
                        generation: old.generation,
                    });
                }
            }
            devices.retain(|_, slot| !slot.is_empty());
            if devices.is_empty() {
                accounts.remove(&aci);
            }
        }
        closed
    }

    /// Hands an event to the device's socket here; false if there is none (a socket whose
    /// receiver is gone is forgotten).
    pub fn send(&self, aci: Aci, device: DeviceId, event: SocketEvent) -> bool {
        let mut accounts = lock(&self.accounts);
        let Some(slot) = accounts.get_mut(&aci).and_then(|d| d.get_mut(&device)) else {
            return false;
        };
        let Some(socket) = &slot.socket else {
            return false;
        };
        if socket.tx.send(event).is_ok() {
            return true;
        }
        slot.socket = None;
        Self::tidy(&mut accounts, aci, device);
        false
    }

    /// Whether the device has a socket here.
    pub fn contains(&self, aci: Aci, device: DeviceId) -> bool {
        lock(&self.accounts)
            .get(&aci)
            .and_then(|d| d.get(&device))
            .is_some_and(|slot| slot.socket.as_ref().is_some_and(|s| !s.tx.is_closed()))
    }

    /// Whether this socket is still the device's socket here.
    pub fn holds(&self, aci: Aci, device: DeviceId, id: SocketId) -> bool {
        lock(&self.accounts)
            .get(&aci)
            .and_then(|d| d.get(&device))
            .and_then(|slot| slot.socket.as_ref())
            .is_some_and(|s| s.id == id)
    }

    /// Forgets the sockets whose receiver was dropped without an unregistration, and returns
    /// them so their presence can be removed.
    pub fn reap_abandoned(&self) -> Vec<LocalSocket> {
        let mut accounts = lock(&self.accounts);
        let mut reaped = Vec::new();
        for (aci, devices) in accounts.iter_mut() {
            for (device, slot) in devices.iter_mut() {
                if slot.socket.as_ref().is_some_and(|s| s.tx.is_closed()) {
                    if let Some(s) = slot.socket.take() {
                        reaped.push(LocalSocket {
                            aci: *aci,
                            device: *device,
                            id: s.id,
                            generation: s.generation,
                        });
                    }
                }
            }
            devices.retain(|_, slot| !slot.is_empty());
        }
        accounts.retain(|_, devices| !devices.is_empty());
        reaped
    }

    /// Every socket here.
    pub fn snapshot(&self) -> Vec<LocalSocket> {
        let accounts = lock(&self.accounts);
        let mut out = Vec::new();
        for (aci, devices) in accounts.iter() {
            for (device, slot) in devices {
                if let Some(s) = &slot.socket {
                    out.push(LocalSocket {
                        aci: *aci,
                        device: *device,
                        id: s.id,
                        generation: s.generation,
                    });
                }
            }
        }
        out
    }

    /// Sends an event to every socket here (a spurious wake-up is harmless: the socket just
    /// finds its queue unchanged).
    pub fn broadcast(&self, event: &SocketEvent) {
        let accounts = lock(&self.accounts);
        for slot in accounts.values().flat_map(|d| d.values()) {
            if let Some(s) = &slot.socket {
                let _ = s.tx.send(event.clone());
            }
        }
    }

    /// Forgets displacement floors older than `age` (they only matter for the moment between a
    /// registration in Redis and its recording here).
    pub fn prune_floors(&self, age: Duration) {
        let mut accounts = lock(&self.accounts);
        for devices in accounts.values_mut() {
            for slot in devices.values_mut() {
                if slot.floor_since.is_some_and(|t| t.elapsed() > age) {
                    slot.floor_since = None;
                    slot.floor = 0;
                }
            }
            devices.retain(|_, slot| !slot.is_empty());
        }
        accounts.retain(|_, devices| !devices.is_empty());
    }

    fn tidy(accounts: &mut HashMap<Aci, HashMap<DeviceId, Slot>>, aci: Aci, device: DeviceId) {
        if let Some(devices) = accounts.get_mut(&aci) {
            if devices.get(&device).is_some_and(Slot::is_empty) {
                devices.remove(&device);
            }
            if devices.is_empty() {
                accounts.remove(&aci);
            }
        }
    }
}

/// The provisioning sockets of this node, by address.
#[derive(Default)]
pub(crate) struct LocalProvisioning {
    sockets: Mutex<HashMap<String, UnboundedSender<Vec<u8>>>>,
}

impl LocalProvisioning {
    /// Records a socket (replacing one with the same address).
    pub fn insert(&self, address: &str) -> UnboundedReceiver<Vec<u8>> {
        let (tx, rx) = unbounded_channel();
        lock(&self.sockets).insert(address.to_owned(), tx);
        rx
    }

    /// Forgets the socket.
    pub fn remove(&self, address: &str) -> bool {
        lock(&self.sockets).remove(address).is_some()
    }

    /// Hands the body to the socket here; false if there is none.
    pub fn send(&self, address: &str, body: Vec<u8>) -> bool {
        let mut sockets = lock(&self.sockets);
        let Some(tx) = sockets.get(address) else {
            return false;
        };
        if tx.send(body).is_ok() {
            return true;
        }
        sockets.remove(address);
        false
    }

    /// Whether a socket with this address is here.
    pub fn contains(&self, address: &str) -> bool {
        lock(&self.sockets).contains_key(address)
    }

    /// The addresses here whose sockets are still open.
    pub fn addresses(&self) -> Vec<String> {
        let mut sockets = lock(&self.sockets);
        sockets.retain(|_, tx| !tx.is_closed());
        sockets.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeId;

    fn ids() -> (Aci, DeviceId, NodeId) {
        (Aci::random(), DeviceId::PRIMARY, NodeId::random())
    }

    #[test]
    fn the_higher_generation_wins_whatever_the_insertion_order() {
        let (aci, device, node) = ids();
        let table = LocalSockets::default();
        let mut newer = table.insert(aci, device, SocketId::new(node, 2), 20);
        let mut older = table.insert(aci, device, SocketId::new(node, 1), 10);
        assert_eq!(older.try_recv(), Ok(SocketEvent::displaced()));
        assert!(older.try_recv().is_err());
        assert!(newer.try_recv().is_err());
        assert!(table.holds(aci, device, SocketId::new(node, 2)));
        let mut newest = table.insert(aci, device, SocketId::new(node, 3), 30);
        assert_eq!(newer.try_recv(), Ok(SocketEvent::displaced()));
        assert!(newest.try_recv().is_err());
    }

    #[test]
    fn a_displacement_that_arrives_first_is_remembered() {
        let (aci, device, node) = ids();
        let table = LocalSockets::default();
        table.displace_older(aci, device, 50);
        let mut late = table.insert(aci, device, SocketId::new(node, 1), 40);
        assert_eq!(late.try_recv(), Ok(SocketEvent::displaced()));
        assert!(!table.contains(aci, device));
        let mut newer = table.insert(aci, device, SocketId::new(node, 2), 60);
        assert!(newer.try_recv().is_err());
        assert!(table.contains(aci, device));
        // Floors are forgotten after a while; live sockets are kept.
        table.prune_floors(Duration::ZERO);
        assert!(table.contains(aci, device));
    }

    #[test]
    fn removal_and_closing_are_targeted() {
        let (aci, device, node) = ids();
        let table = LocalSockets::default();
        let (one, two) = (SocketId::new(node, 1), SocketId::new(node, 2));
        let _rx1 = table.insert(aci, device, one, 1);
        let mut rx2 = table.insert(aci, device, two, 2);
        assert_eq!(table.remove(aci, device, one), None);
        assert!(table
            .close_device(aci, device, Some(one), SocketEvent::reauthenticate())
            .is_none());
        assert!(rx2.try_recv().is_err());
        let closed = table.close_device(aci, device, Some(two), SocketEvent::reauthenticate());
        assert_eq!(closed.map(|s| s.generation), Some(2));
        assert_eq!(rx2.try_recv(), Ok(SocketEvent::reauthenticate()));
        assert_eq!(table.remove(aci, device, two), None);
        assert!(table.snapshot().is_empty());
    }

    #[test]
    fn abandoned_sockets_are_reaped() {
        let (aci, device, node) = ids();
        let table = LocalSockets::default();
        let rx = table.insert(aci, device, SocketId::new(node, 1), 1);
        drop(rx);
        assert!(!table.contains(aci, device));
        assert!(!table.send(aci, device, SocketEvent::NewMessages));
        let _rx = table.insert(aci, device, SocketId::new(node, 2), 2);
        let rx3 = table.insert(aci, DeviceId::new(2).unwrap(), SocketId::new(node, 3), 3);
        drop(rx3);
        let reaped = table.reap_abandoned();
        assert_eq!(reaped.len(), 1);
        assert_eq!(table.snapshot().len(), 1);
    }
}
