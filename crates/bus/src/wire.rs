//! The messages nodes publish to each other over Redis pub/sub, in a small binary form:
//! a kind byte, then fixed-width fields, then any variable payload. Decoding never panics; a
//! message that does not parse is dropped by the receiver.

use heliograph_types::{Aci, DeviceId};
use uuid::Uuid;

use crate::NodeId;

/// One message between nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NodeMessage {
    /// To the node holding the device's socket: new messages are queued.
    Wake { aci: Aci, device: DeviceId },
    /// To the node holding the device's socket: push this envelope.
    Ephemeral {
        aci: Aci,
        device: DeviceId,
        envelope: Vec<u8>,
    },
    /// To the node holding an older socket of the device: a socket with this generation
    /// registered, close older ones with 4409.
    Displace {
        aci: Aci,
        device: DeviceId,
        generation: u64,
    },
    /// To the node holding the provisioning socket.
    Provisioning { address: String, body: Vec<u8> },
    /// To all nodes: close the device's sockets with 4401.
    DisconnectDevice {
        origin: NodeId,
        aci: Aci,
        device: DeviceId,
    },
    /// To all nodes: close the account's sockets with 4401.
    DisconnectAccount { origin: NodeId, aci: Aci },
}

const WAKE: u8 = 1;
const EPHEMERAL: u8 = 2;
const DISPLACE: u8 = 3;
const PROVISIONING: u8 = 4;
const DISCONNECT_DEVICE: u8 = 5;
const DISCONNECT_ACCOUNT: u8 = 6;

impl NodeMessage {
    /// The binary form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        match self {
            NodeMessage::Wake { aci, device } => {
                out.push(WAKE);
                put_device(&mut out, *aci, *device);
            }
            NodeMessage::Ephemeral {
                aci,
                device,
                envelope,
            } => {
                out.push(EPHEMERAL);
                put_device(&mut out, *aci, *device);
                out.extend_from_slice(envelope);
            }
            NodeMessage::Displace {
                aci,
                device,
                generation,
            } => {
                out.push(DISPLACE);
                put_device(&mut out, *aci, *device);
                out.extend_from_slice(&generation.to_be_bytes());
            }
            NodeMessage::Provisioning { address, body } => {
                out.push(PROVISIONING);
                // Addresses are short; a longer one is cut at a char boundary rather than
                // failing (it then matches no socket, as it could not have been registered).
                let mut len = address.len().min(usize::from(u16::MAX));
                while !address.is_char_boundary(len) {
                    len -= 1;
                }
                let len16 = u16::try_from(len).unwrap_or(u16::MAX);
                out.extend_from_slice(&len16.to_be_bytes());
                out.extend_from_slice(&address.as_bytes()[..len]);
                out.extend_from_slice(body);
            }
            NodeMessage::DisconnectDevice {
                origin,
                aci,
                device,
            } => {
                out.push(DISCONNECT_DEVICE);
                out.extend_from_slice(origin.uuid().as_bytes());
                put_device(&mut out, *aci, *device);
            }
            NodeMessage::DisconnectAccount { origin, aci } => {
                out.push(DISCONNECT_ACCOUNT);
                out.extend_from_slice(origin.uuid().as_bytes());
                out.extend_from_slice(&aci.to_bytes());
            }
        }
        out
    }

    /// Parses the binary form; `None` if it is malformed.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let (&kind, rest) = bytes.split_first()?;
        let mut r = Reader(rest);
        let message = match kind {
            WAKE => {
                let (aci, device) = r.device()?;
                NodeMessage::Wake { aci, device }
            }
            EPHEMERAL => {
                let (aci, device) = r.device()?;
                let envelope = r.rest().to_vec();
                NodeMessage::Ephemeral {
                    aci,
                    device,
                    envelope,
                }
            }
            DISPLACE => {
                let (aci, device) = r.device()?;
                let generation = u64::from_be_bytes(r.array()?);
                NodeMessage::Displace {
                    aci,
                    device,
                    generation,
                }
            }
            PROVISIONING => {
                let len = u16::from_be_bytes(r.array()?);
                let address = std::str::from_utf8(r.take(usize::from(len))?)
                    .ok()?
                    .to_owned();
                let body = r.rest().to_vec();
                NodeMessage::Provisioning { address, body }
            }
            DISCONNECT_DEVICE => {
                let origin = NodeId::from_uuid(Uuid::from_bytes(r.array()?));
                let (aci, device) = r.device()?;
                NodeMessage::DisconnectDevice {
                    origin,
                    aci,
                    device,
                }
            }
            DISCONNECT_ACCOUNT => {
                let origin = NodeId::from_uuid(Uuid::from_bytes(r.array()?));
                let aci = Aci::from_uuid(Uuid::from_bytes(r.array()?));
                NodeMessage::DisconnectAccount { origin, aci }
            }
            _ => return None,
        };
        // Fixed-size messages must have no trailing bytes.
        r.0.is_empty().then_some(message)
    }
}

fn put_device(out: &mut Vec<u8>, aci: Aci, device: DeviceId) {
    out.extend_from_slice(&aci.to_bytes());
    out.push(device.get());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }

    fn device(&mut self) -> Option<(Aci, DeviceId)> {
        let aci = Aci::from_uuid(Uuid::from_bytes(self.array()?));
        let [device] = self.array()?;
        let device = DeviceId::new(u32::from(device)).ok()?;
        Some((aci, device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn samples() -> Vec<NodeMessage> {
        let aci = Aci::random();
        let device = DeviceId::new(3).unwrap();
        vec![
            NodeMessage::Wake { aci, device },
            NodeMessage::Ephemeral {
                aci,
                device,
                envelope: vec![1, 2, 3],
            },
            NodeMessage::Ephemeral {
                aci,
                device,
                envelope: vec![],
            },
            NodeMessage::Displace {
                aci,
                device,
                generation: u64::MAX - 1,
            },
            NodeMessage::Provisioning {
                address: "é-addr".into(),
                body: vec![9; 100],
            },
            NodeMessage::DisconnectDevice {
                origin: NodeId::random(),
                aci,
                device,
            },
            NodeMessage::DisconnectAccount {
                origin: NodeId::random(),
                aci,
            },
        ]
    }

    #[test]
    fn round_trips() {
        for m in samples() {
            assert_eq!(NodeMessage::decode(&m.encode()), Some(m));
        }
    }

    #[test]
    fn rejects_truncated_and_padded() {
        for m in samples() {
            let bytes = m.encode();
            let fixed = !matches!(
                m,
                NodeMessage::Ephemeral { .. } | NodeMessage::Provisioning { .. }
            );
            if fixed {
                assert_eq!(NodeMessage::decode(&bytes[..bytes.len() - 1]), None);
                let mut padded = bytes.clone();
                padded.push(0);
                assert_eq!(NodeMessage::decode(&padded), None);
            }
        }
        assert_eq!(NodeMessage::decode(&[]), None);
        assert_eq!(NodeMessage::decode(&[0]), None);
        let mut bad_device = samples()[0].encode();
        bad_device[17] = 0;
        assert_eq!(NodeMessage::decode(&bad_device), None);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = NodeMessage::decode(&bytes);
        }

        #[test]
        fn decode_never_panics_on_known_kinds(kind in 1u8..=6, rest in proptest::collection::vec(any::<u8>(), 0..60)) {
            let mut bytes = vec![kind];
            bytes.extend(rest);
            if let Some(m) = NodeMessage::decode(&bytes) {
                prop_assert_eq!(m.encode(), bytes);
            }
        }
    }
}
