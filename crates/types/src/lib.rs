//! Identifiers, key types and signature verification shared by every Heliograph crate.
//!
//! Nothing in here does I/O. Every identifier is a newtype so that an ACI can never be passed
//! where a PNI, a device id or a phone number is expected.

mod ids;
mod keys;
mod redacted;

pub use ids::{Aci, DeviceId, IdError, MessageGuid, Pni, RegistrationId, ServiceId, E164};
pub use keys::{KemPublicKey, KeyError, PrivateKey, PublicKey, Signature};
pub use redacted::Redacted;
