//! Sealed-sender certificates: a server certificate signed by the trust root, and sender
//! certificates signed by the server certificate's key, with the signer embedded (clients only
//! resolve signer ids for Signal's own servers).

use prost::Message;
use rand::rngs::OsRng;

use heliograph_protocol::proto::textsecure::{
    sender_certificate, server_certificate, SenderCertificate, ServerCertificate,
};
use heliograph_types::{Aci, DeviceId, PrivateKey, E164};

/// The id of our server certificate. Any id works because the certificate is embedded; this
/// avoids libsignal's revoked id and the ids of Signal's own certificates.
pub const SERVER_CERTIFICATE_ID: u32 = 1;

/// Issues sender certificates.
pub struct CertificateIssuer {
    server_certificate: ServerCertificate,
    server_key: PrivateKey,
    lifetime_ms: i64,
}

impl CertificateIssuer {
    /// Builds the server certificate for `server_key`, signed by `trust_root`.
    pub fn new(trust_root: &PrivateKey, server_key: PrivateKey, lifetime_ms: i64) -> Self {
        let inner = server_certificate::Certificate {
            id: Some(SERVER_CERTIFICATE_ID),
            key: Some(server_key.public_key().serialize().to_vec()),
        }
        .encode_to_vec();
        let signature = trust_root.sign(&mut OsRng, &[&inner]);
        Self {
            server_certificate: ServerCertificate {
                certificate: Some(inner),
                signature: Some(signature.as_bytes().to_vec()),
            },
            server_key,
            lifetime_ms,
        }
    }

    /// The serialized server certificate.
    pub fn server_certificate(&self) -> Vec<u8> {
        self.server_certificate.encode_to_vec()
    }

    /// A serialized `SenderCertificate` for a device, valid from `now_ms` for the configured
    /// lifetime. The number is included only when `e164` is given.
    pub fn issue(
        &self,
        aci: Aci,
        device: DeviceId,
        e164: Option<&E164>,
        identity_key: &[u8],
        now_ms: i64,
    ) -> Vec<u8> {
        let inner = sender_certificate::Certificate {
            sender_e164: e164.map(|n| n.as_str().to_owned()),
            sender_device: Some(u32::from(device.get())),
            expires: Some((now_ms + self.lifetime_ms).max(0) as u64),
            identity_key: Some(identity_key.to_vec()),
            sender_uuid_string: None,
            sender_uuid: Some(aci.to_bytes().to_vec()),
            signer: Some(sender_certificate::certificate::Signer::SignerCertificate(
                self.server_certificate.clone(),
            )),
        }
        .encode_to_vec();
        let signature = self.server_key.sign(&mut OsRng, &[&inner]);
        SenderCertificate {
            certificate: Some(inner),
            signature: Some(signature.as_bytes().to_vec()),
        }
        .encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_verifies() {
        let root = PrivateKey::generate(&mut OsRng);
        let issuer = CertificateIssuer::new(&root, PrivateKey::generate(&mut OsRng), 1000);
        let aci = Aci::random();
        let raw = issuer.issue(aci, DeviceId::PRIMARY, None, &[5u8; 33], 10);
        let cert = SenderCertificate::decode(raw.as_slice()).unwrap();
        let inner = sender_certificate::Certificate::decode(cert.certificate()).unwrap();
        assert_eq!(inner.sender_uuid(), aci.to_bytes());
        assert_eq!(inner.expires(), 1010);
        assert!(inner.sender_e164.is_none());
        let Some(sender_certificate::certificate::Signer::SignerCertificate(server)) = inner.signer
        else {
            panic!("signer must be embedded");
        };
        let server_inner = server_certificate::Certificate::decode(server.certificate()).unwrap();
        let server_key = heliograph_types::PublicKey::from_bytes(server_inner.key()).unwrap();
        let sig = heliograph_types::Signature::from_bytes(cert.signature()).unwrap();
        assert!(server_key.verify(&[cert.certificate()], &sig).is_ok());
        let root_sig = heliograph_types::Signature::from_bytes(server.signature()).unwrap();
        assert!(root
            .public_key()
            .verify(&[server.certificate()], &root_sig)
            .is_ok());
    }
}
