//! Sealed-sender certificates: building the signed `ServerCertificate`/`SenderCertificate`
//! protobufs and reading them back without trusting their contents.

use heliograph_types::{Aci, DeviceId, PublicKey, Signature};
use prost::Message;
use uuid::Uuid;

use crate::proto::textsecure::{
    sender_certificate, server_certificate, SenderCertificate, ServerCertificate,
};

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The outer or inner protobuf does not decode.
    #[error("certificate does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    /// A required field is absent.
    #[error("certificate lacks {0}")]
    Missing(&'static str),
    /// A key, signature, uuid or device id is malformed.
    #[error("certificate has a malformed {0}")]
    Malformed(&'static str),
}

/// A decoded server certificate (signature not checked here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCertificateInfo {
    /// Key id (`0x7357C357` for the libsignal test chain).
    pub id: u32,
    /// The server's signing key.
    pub key: PublicKey,
    /// The signed bytes (a serialized inner `Certificate`).
    pub certificate: Vec<u8>,
    /// The trust root's signature over `certificate`.
    pub signature: Signature,
}

/// Who signed a sender certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// The server certificate is embedded (what a third-party server must do).
    Embedded(ServerCertificateInfo),
    /// Only an id of a certificate compiled into clients.
    Id(u32),
}

/// A decoded sender certificate (signatures not checked here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderCertificateInfo {
    /// The sender's ACI (from the bytes field 7, or the older text field 6).
    pub sender: Aci,
    /// The sender's number, if included.
    pub sender_e164: Option<String>,
    /// The sending device.
    pub sender_device: DeviceId,
    /// Expiry, ms since the epoch.
    pub expires: u64,
    /// The sender's ACI identity key.
    pub identity_key: PublicKey,
    /// The signer.
    pub signer: Signer,
    /// The signed bytes.
    pub certificate: Vec<u8>,
    /// The server key's signature over `certificate`.
    pub signature: Signature,
}

/// Builds a serialized `ServerCertificate`; `sign` signs the inner certificate bytes with the
/// trust root's private key.
pub fn build_server_certificate(
    id: u32,
    key: &PublicKey,
    sign: impl FnOnce(&[u8]) -> Signature,
) -> Vec<u8> {
    let inner = server_certificate::Certificate {
        id: Some(id),
        key: Some(key.serialize().to_vec()),
    }
    .encode_to_vec();
    let signature = sign(&inner);
    ServerCertificate {
        certificate: Some(inner),
        signature: Some(signature.as_bytes().to_vec()),
    }
    .encode_to_vec()
}

/// What goes into a sender certificate.
#[derive(Debug, Clone)]
pub struct SenderCertificateFields<'a> {
    /// The sender.
    pub sender: Aci,
    /// Include the number only when the client asked for it.
    pub sender_e164: Option<&'a str>,
    /// The sending device.
    pub sender_device: DeviceId,
    /// Expiry, ms since the epoch.
    pub expires: u64,
    /// The sender's ACI identity key.
    pub identity_key: &'a PublicKey,
    /// The serialized server certificate to embed.
    pub server_certificate: &'a [u8],
}

/// Builds a serialized `SenderCertificate` with the signer embedded; `sign` signs the inner
/// certificate bytes with the server certificate's private key.
pub fn build_sender_certificate(
    fields: &SenderCertificateFields<'_>,
    sign: impl FnOnce(&[u8]) -> Signature,
) -> Result<Vec<u8>, CertificateError> {
    let server = ServerCertificate::decode(fields.server_certificate)?;
    let inner = sender_certificate::Certificate {
        sender_e164: fields.sender_e164.map(str::to_owned),
        sender_device: Some(u32::from(fields.sender_device.get())),
        expires: Some(fields.expires),
        identity_key: Some(fields.identity_key.serialize().to_vec()),
        sender_uuid_string: None,
        sender_uuid: Some(fields.sender.to_bytes().to_vec()),
        signer: Some(sender_certificate::certificate::Signer::SignerCertificate(
            server,
        )),
    }
    .encode_to_vec();
    let signature = sign(&inner);
    Ok(SenderCertificate {
        certificate: Some(inner),
        signature: Some(signature.as_bytes().to_vec()),
    }
    .encode_to_vec())
}

fn server_info(outer: ServerCertificate) -> Result<ServerCertificateInfo, CertificateError> {
    let certificate = outer
        .certificate
        .ok_or(CertificateError::Missing("certificate"))?;
    let signature = outer
        .signature
        .ok_or(CertificateError::Missing("signature"))?;
    let inner = server_certificate::Certificate::decode(certificate.as_slice())?;
    Ok(ServerCertificateInfo {
        id: inner.id.ok_or(CertificateError::Missing("id"))?,
        key: PublicKey::from_bytes(&inner.key.ok_or(CertificateError::Missing("key"))?)
            .map_err(|_| CertificateError::Malformed("key"))?,
        signature: Signature::from_bytes(&signature)
            .map_err(|_| CertificateError::Malformed("signature"))?,
        certificate,
    })
}

/// Reads a serialized `ServerCertificate`.
pub fn parse_server_certificate(bytes: &[u8]) -> Result<ServerCertificateInfo, CertificateError> {
    server_info(ServerCertificate::decode(bytes)?)
}

/// Reads a serialized `SenderCertificate`.
pub fn parse_sender_certificate(bytes: &[u8]) -> Result<SenderCertificateInfo, CertificateError> {
    let outer = SenderCertificate::decode(bytes)?;
    let certificate = outer
        .certificate
        .ok_or(CertificateError::Missing("certificate"))?;
    let signature = outer
        .signature
        .ok_or(CertificateError::Missing("signature"))?;
    let inner = sender_certificate::Certificate::decode(certificate.as_slice())?;
    let sender = match (&inner.sender_uuid, &inner.sender_uuid_string) {
        (Some(raw), _) => {
            Uuid::from_slice(raw).map_err(|_| CertificateError::Malformed("sender uuid"))?
        }
        (None, Some(text)) => text
            .parse()
            .map_err(|_| CertificateError::Malformed("sender uuid"))?,
        (None, None) => return Err(CertificateError::Missing("sender uuid")),
    };
    let device = inner
        .sender_device
        .ok_or(CertificateError::Missing("sender device"))?;
    let signer = match inner.signer {
        Some(sender_certificate::certificate::Signer::SignerCertificate(s)) => {
            Signer::Embedded(server_info(s)?)
        }
        Some(sender_certificate::certificate::Signer::SignerId(id)) => Signer::Id(id),
        None => return Err(CertificateError::Missing("signer")),
    };
    Ok(SenderCertificateInfo {
        sender: Aci::from_uuid(sender),
        sender_e164: inner.sender_e164,
        sender_device: DeviceId::new(device)
            .map_err(|_| CertificateError::Malformed("sender device"))?,
        expires: inner.expires.ok_or(CertificateError::Missing("expires"))?,
        identity_key: PublicKey::from_bytes(
            &inner
                .identity_key
                .ok_or(CertificateError::Missing("identity key"))?,
        )
        .map_err(|_| CertificateError::Malformed("identity key"))?,
        signer,
        signature: Signature::from_bytes(&signature)
            .map_err(|_| CertificateError::Malformed("signature"))?,
        certificate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(fill: u8) -> PublicKey {
        let mut raw = [fill; 33];
        raw[0] = 5;
        PublicKey::from_bytes(&raw).unwrap()
    }

    #[test]
    fn build_and_parse() {
        let server = build_server_certificate(0x7357C357, &key(1), |_| Signature([2; 64]));
        let info = parse_server_certificate(&server).unwrap();
        assert_eq!(info.id, 0x7357C357);
        assert_eq!(info.key, key(1));
        let aci = Aci::from_uuid(Uuid::from_u128(9));
        let fields = SenderCertificateFields {
            sender: aci,
            sender_e164: Some("+15555550101"),
            sender_device: DeviceId::PRIMARY,
            expires: 77,
            identity_key: &key(3),
            server_certificate: &server,
        };
        let sender = build_sender_certificate(&fields, |_| Signature([4; 64])).unwrap();
        let parsed = parse_sender_certificate(&sender).unwrap();
        assert_eq!(parsed.sender, aci);
        assert_eq!(parsed.expires, 77);
        assert_eq!(parsed.signer, Signer::Embedded(info));
        assert_eq!(parsed.signature, Signature([4; 64]));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_sender_certificate(&data);
            let _ = parse_server_certificate(&data);
        }

        #[test]
        fn roundtrip(id in any::<u32>(), u in any::<u128>(), dev in 1u32..=127, expires in any::<u64>(), k in 0u8..255, e164 in proptest::option::of("\\+[1-9][0-9]{5,14}")) {
            let server = build_server_certificate(id, &key(k), |_| Signature([k; 64]));
            let fields = SenderCertificateFields {
                sender: Aci::from_uuid(Uuid::from_u128(u)),
                sender_e164: e164.as_deref(),
                sender_device: DeviceId::new(dev).unwrap(),
                expires,
                identity_key: &key(k.wrapping_add(1)),
                server_certificate: &server,
            };
            let parsed = parse_sender_certificate(&build_sender_certificate(&fields, |_| Signature([1; 64])).unwrap()).unwrap();
            prop_assert_eq!(parsed.sender, fields.sender);
            prop_assert_eq!(parsed.sender_e164.as_deref(), e164.as_deref());
            prop_assert_eq!(parsed.sender_device, fields.sender_device);
            prop_assert_eq!(parsed.expires, expires);
            prop_assert_eq!(parsed.identity_key, key(k.wrapping_add(1)));
        }
    }
}
