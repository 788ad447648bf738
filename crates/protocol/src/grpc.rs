//! gRPC messages and tonic server/client stubs of the `org.signal.chat.*` services.
//!
//! Each module holds the generated messages plus `<service>_server` (a trait and a tower
//! service, every method defaulting to `UNIMPLEMENTED`) and `<service>_client` (used by tests).
//! Paths match the official server, e.g. `/org.signal.chat.keys.Keys/GetPreKeyCount`.

pub use crate::generated::org::signal::chat::{account, common, device, errors, keys, messages};
