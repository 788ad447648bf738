//! JSON request and response bodies of the REST (and WebSocket-tunnelled) API.
//!
//! Field names follow the wire (`camelCase`); unknown fields are ignored on read; each byte
//! field uses the base64 variant the official server uses for it (see [`crate::b64`]).

pub mod accounts;
pub mod devices;
pub mod keys;
pub mod messages;
pub mod misc;
pub mod profiles;
pub mod registration;

pub use accounts::*;
pub use devices::*;
pub use keys::*;
pub use messages::*;
pub use misc::*;
pub use profiles::*;
pub use registration::*;

#[cfg(test)]
pub(crate) mod golden {
    //! Golden-JSON assertion shared by the body tests.

    use serde::{de::DeserializeOwned, Serialize};

    /// Parses `json`, checks it equals `value`, and checks `value` serializes back to `json`
    /// (compared as JSON values, so key order does not matter).
    pub fn roundtrip<T>(value: &T, json: &str)
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let parsed: T = serde_json::from_str(json).expect("golden JSON parses");
        assert_eq!(&parsed, value);
        let written = serde_json::to_value(value).expect("serializes");
        let expected: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
        assert_eq!(written, expected);
    }
}
