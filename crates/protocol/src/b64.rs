//! Serde helpers for the byte encodings of Signal's JSON bodies (see the base64 variants table
//! of the wire reference), usable as `#[serde(with = "crate::b64::standard")]`.
//!
//! * [`standard`]: standard alphabet, written padded, read with or without padding.
//! * [`standard_lenient`]: standard alphabet, written **unpadded**, read with or without
//!   padding (the official server's `ByteArrayAdapter` fields).
//! * [`url_nopad`]: URL-safe alphabet, written unpadded, read with or without padding.
//! * [`url_pad`]: URL-safe alphabet, written padded, read with or without padding.
//! * [`hex_bytes`]: lower-case hex.
//!
//! Every module also has an `option` submodule for `Option<T>` fields (JSON `null` or absent
//! becomes `None`; pair it with `#[serde(default)]`). The field type can be anything that
//! implements [`WireBytes`]: `Vec<u8>`, fixed arrays, and the key types of `heliograph-types`.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine};
use heliograph_types::{KemPublicKey, PublicKey, Signature};

/// A value with a byte-string wire form.
pub trait WireBytes: Sized {
    /// The bytes to encode.
    fn wire_bytes(&self) -> &[u8];
    /// Builds the value from decoded bytes; the error text ends up in the serde error.
    fn from_wire_bytes(bytes: Vec<u8>) -> Result<Self, String>;
}

impl WireBytes for Vec<u8> {
    fn wire_bytes(&self) -> &[u8] {
        self
    }
    fn from_wire_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        Ok(bytes)
    }
}

impl<const N: usize> WireBytes for [u8; N] {
    fn wire_bytes(&self) -> &[u8] {
        self
    }
    fn from_wire_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        let len = bytes.len();
        bytes
            .try_into()
            .map_err(|_| format!("expected {N} bytes, got {len}"))
    }
}

impl WireBytes for PublicKey {
    fn wire_bytes(&self) -> &[u8] {
        self.serialize()
    }
    fn from_wire_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        PublicKey::from_bytes(&bytes).map_err(|e| e.to_string())
    }
}

impl WireBytes for KemPublicKey {
    fn wire_bytes(&self) -> &[u8] {
        self.serialize()
    }
    fn from_wire_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        KemPublicKey::from_bytes(&bytes).map_err(|e| e.to_string())
    }
}

impl WireBytes for Signature {
    fn wire_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    fn from_wire_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        Signature::from_bytes(&bytes).map_err(|e| e.to_string())
    }
}

const INDIFFERENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_encode_padding(false)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent);

/// Standard alphabet, any padding on read.
const STANDARD_READ: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, INDIFFERENT);
/// URL-safe alphabet, any padding on read.
const URL_READ: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, INDIFFERENT);

/// Encodes with the standard alphabet and padding.
pub fn encode_standard(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Encodes with the standard alphabet, no padding.
pub fn encode_standard_nopad(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// Encodes with the URL-safe alphabet, no padding.
pub fn encode_url_nopad(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Encodes with the URL-safe alphabet and padding.
pub fn encode_url_pad(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// Decodes standard-alphabet base64, padded or not.
pub fn decode_standard(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD_READ.decode(text)
}

/// Decodes URL-safe base64, padded or not.
pub fn decode_url(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_READ.decode(text)
}

pub(crate) fn decode_hex(text: &str) -> Result<Vec<u8>, hex::FromHexError> {
    hex::decode(text)
}

macro_rules! variant {
    ($(#[$meta:meta])* $name:ident, $encode:path, $decode:path) => {
        $(#[$meta])*
        pub mod $name {
            use super::WireBytes;
            use serde::{Deserialize, Deserializer, Serializer};

            /// Writes the value as a string.
            pub fn serialize<T: WireBytes, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&$encode(value.wire_bytes()))
            }

            /// Reads the value from a string.
            pub fn deserialize<'de, T: WireBytes, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                let bytes = $decode(&text).map_err(serde::de::Error::custom)?;
                T::from_wire_bytes(bytes).map_err(serde::de::Error::custom)
            }

            /// The same encoding for `Option<T>`; `None` is written as `null`.
            pub mod option {
                use super::super::WireBytes;
                use serde::{Deserialize, Deserializer, Serializer};

                /// Writes `Some` as a string and `None` as `null`.
                pub fn serialize<T: WireBytes, S: Serializer>(
                    value: &Option<T>,
                    s: S,
                ) -> Result<S::Ok, S::Error> {
                    match value {
                        Some(v) => super::serialize(v, s),
                        None => s.serialize_none(),
                    }
                }

                /// Reads a string or `null`.
                pub fn deserialize<'de, T: WireBytes, D: Deserializer<'de>>(
                    d: D,
                ) -> Result<Option<T>, D::Error> {
                    let text = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
                    text.map(|t| {
                        let bytes = $decode(&t).map_err(serde::de::Error::custom)?;
                        T::from_wire_bytes(bytes).map_err(serde::de::Error::custom)
                    })
                    .transpose()
                }
            }

            /// The same encoding for `Vec<T>`, a JSON array of strings.
            pub mod vec {
                use super::super::WireBytes;
                use serde::ser::SerializeSeq;
                use serde::{Deserialize, Deserializer, Serializer};

                /// Writes an array of strings.
                pub fn serialize<T: WireBytes, S: Serializer>(
                    value: &[T],
                    s: S,
                ) -> Result<S::Ok, S::Error> {
                    let mut seq = s.serialize_seq(Some(value.len()))?;
                    for v in value {
                        seq.serialize_element(&$encode(v.wire_bytes()))?;
                    }
                    seq.end()
                }

                /// Reads an array of strings.
                pub fn deserialize<'de, T: WireBytes, D: Deserializer<'de>>(
                    d: D,
                ) -> Result<Vec<T>, D::Error> {
                    let texts = <Vec<String>>::deserialize(d)?;
                    texts
                        .iter()
                        .map(|t| {
                            let bytes = $decode(t).map_err(serde::de::Error::custom)?;
                            T::from_wire_bytes(bytes).map_err(serde::de::Error::custom)
                        })
                        .collect()
                }
            }
        }
    };
}

variant!(
    /// Standard base64, written with padding (identity keys, public keys, plain `byte[]`).
    standard, crate::b64::encode_standard, crate::b64::decode_standard
);
variant!(
    /// Standard base64, written without padding, read leniently (prekey signatures, message
    /// content, recovery password, device name).
    standard_lenient, crate::b64::encode_standard_nopad, crate::b64::decode_standard
);
variant!(
    /// URL-safe base64 without padding (username hashes, proofs, encrypted usernames).
    url_nopad, crate::b64::encode_url_nopad, crate::b64::decode_url
);
variant!(
    /// URL-safe base64 with padding (verification session id, provisioning address).
    url_pad, crate::b64::encode_url_pad, crate::b64::decode_url
);
variant!(
    /// Lower-case hex (profile version, registration lock).
    hex_bytes, hex::encode, crate::b64::decode_hex
);

/// The unidentified access key field: written as padded standard base64; read from either a
/// base64 string or a JSON array of 16 numbers (libsignal's typed registration client sends
/// the array form). Use on `Option<[u8; 16]>`/`Option<Vec<u8>>` fields.
pub mod bytes_or_array {
    use super::WireBytes;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Array(Vec<u8>),
    }

    /// Writes `Some` as padded standard base64 and `None` as `null`.
    pub fn serialize<T: WireBytes, S: Serializer>(
        value: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        super::standard::option::serialize(value, s)
    }

    /// Reads base64 text, an array of byte values, or `null`.
    pub fn deserialize<'de, T: WireBytes, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        let raw = <Option<Either>>::deserialize(d)?;
        let bytes = match raw {
            None => return Ok(None),
            Some(Either::Text(t)) => {
                crate::b64::decode_standard(&t).map_err(serde::de::Error::custom)?
            }
            Some(Either::Array(a)) => a,
        };
        T::from_wire_bytes(bytes)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_reads_accept_both_paddings() {
        assert_eq!(decode_standard("YQ==").unwrap(), b"a");
        assert_eq!(decode_standard("YQ").unwrap(), b"a");
        assert_eq!(decode_url("-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode_url("-_8=").unwrap(), vec![0xfb, 0xff]);
        assert!(decode_standard("-_8=").is_err());
    }

    #[test]
    fn writers_pick_their_padding() {
        assert_eq!(encode_standard(b"a"), "YQ==");
        assert_eq!(encode_standard_nopad(b"a"), "YQ");
        assert_eq!(encode_url_nopad(&[0xfb, 0xff]), "-_8");
        assert_eq!(encode_url_pad(&[0xfb, 0xff]), "-_8=");
    }
}
