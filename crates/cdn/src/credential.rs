//! Upload credentials for CDN3: an HS256 JWT with the official claims (`aud = "attachments"`,
//! `sub = key`, `iat`, `maxLen`) plus `exp`, so a leaked credential stops working.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::keys::AttachmentKey;

/// The audience of attachment upload credentials.
pub const AUDIENCE: &str = "attachments";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    aud: String,
    sub: String,
    iat: i64,
    exp: i64,
    #[serde(rename = "maxLen")]
    max_len: u64,
}

/// Why a credential was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Not a JWT we signed for attachments (bad signature, algorithm, audience or shape).
    #[error("invalid upload credential")]
    Invalid,
    /// Signed by us but past its `exp`.
    #[error("upload credential expired")]
    Expired,
}

/// What a valid credential allows: uploading at most `max_len` bytes to `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadGrant {
    /// The one key this credential may write.
    pub key: AttachmentKey,
    /// The largest upload it allows.
    pub max_len: u64,
}

/// Signs and verifies upload credentials with one shared secret (every node derives the same).
pub struct CredentialSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: i64,
}

impl CredentialSigner {
    /// A signer with the HMAC `secret` whose credentials live `ttl_secs` seconds.
    pub fn new(secret: &[u8], ttl_secs: i64) -> Self {
        CredentialSigner {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs,
        }
    }

    /// A credential for uploading at most `max_len` bytes to `key`, issued at `now_ms`.
    pub fn issue(&self, key: &AttachmentKey, max_len: u64, now_ms: i64) -> String {
        let iat = now_ms.div_euclid(1000);
        let claims = Claims {
            aud: AUDIENCE.to_owned(),
            sub: key.as_str().to_owned(),
            iat,
            exp: iat + self.ttl_secs,
            max_len,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_else(|_| unreachable!("HS256 encoding of plain claims cannot fail"))
    }

    /// Checks `token` at `now_ms` and returns what it grants.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<UploadGrant, CredentialError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        // Expiry is checked below against our own clock, so tests can move time.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| CredentialError::Invalid)?;
        let claims = data.claims;
        if now_ms.div_euclid(1000) >= claims.exp {
            return Err(CredentialError::Expired);
        }
        let key = AttachmentKey::parse(&claims.sub).map_err(|_| CredentialError::Invalid)?;
        Ok(UploadGrant {
            key,
            max_len: claims.max_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn issued_credentials_verify_and_carry_the_official_claims() {
        let signer = CredentialSigner::new(b"secret", 3600);
        let key = AttachmentKey::random();
        let token = signer.issue(&key, 1234, NOW);
        let grant = signer.verify(&token, NOW + 1000).unwrap();
        assert_eq!(grant.key, key);
        assert_eq!(grant.max_len, 1234);

        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["aud"], "attachments");
        assert_eq!(claims["sub"], key.as_str());
        assert_eq!(claims["maxLen"], 1234);
        assert_eq!(claims["iat"], NOW / 1000);
        assert_eq!(claims["exp"], NOW / 1000 + 3600);
        let header = token.split('.').next().unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header["alg"], "HS256");
    }

    #[test]
    fn expired_foreign_and_tampered_credentials_fail() {
        let signer = CredentialSigner::new(b"secret", 60);
        let key = AttachmentKey::random();
        let token = signer.issue(&key, 10, NOW);
        assert_eq!(
            signer.verify(&token, NOW + 60_000),
            Err(CredentialError::Expired)
        );
        let other = CredentialSigner::new(b"other secret", 60);
        assert_eq!(other.verify(&token, NOW), Err(CredentialError::Invalid));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(
            br#"{"aud":"attachments","sub":"AAAAAAAAAAAAAAAAAAAA","iat":1,"exp":99999999999,"maxLen":999999999}"#,
        );
        assert_eq!(
            signer.verify(&parts.join("."), NOW),
            Err(CredentialError::Invalid)
        );
        assert_eq!(signer.verify("garbage", NOW), Err(CredentialError::Invalid));
        assert_eq!(signer.verify("", NOW), Err(CredentialError::Invalid));
    }

    #[test]
    fn a_credential_for_another_audience_fails() {
        let secret = b"secret";
        let claims = serde_json::json!({"aud": "backups", "sub": "AAAA", "iat": 1, "exp": i64::MAX / 2, "maxLen": 1});
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        let signer = CredentialSigner::new(secret, 60);
        assert_eq!(signer.verify(&token, NOW), Err(CredentialError::Invalid));
    }
}
