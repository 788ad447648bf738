//! S3 POST policies for avatar uploads (CDN0): the form the chat server hands out, signed with
//! AWS Signature Version 4 exactly as S3 expects, and the checks S3 would make when the form
//! is posted (signature, expiry, conditions, size range).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The signing algorithm named in every form.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The ACL named in every form.
pub const ACL: &str = "private";
/// Largest avatar the policy allows (10 MiB, as the official server).
pub const MAX_AVATAR_BYTES: u64 = 10 * 1024 * 1024;
/// How long a form may be used.
pub const FORM_TTL_SECS: i64 = 30 * 60;

/// The upload form returned by `PUT /v1/profile` when the avatar changes. Clients post it to
/// the CDN0 base as multipart/form-data fields `acl`, `key`, `policy`, `x-amz-algorithm`,
/// `x-amz-credential`, `x-amz-date`, `x-amz-signature`, `Content-Type`, then `file` last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostPolicyForm {
    /// The object key (`profiles/…`), also the profile's `avatar` value.
    pub key: String,
    /// `<access key>/<yyyymmdd>/<region>/s3/aws4_request`.
    pub credential: String,
    /// Always `private`.
    pub acl: String,
    /// Always `AWS4-HMAC-SHA256`.
    pub algorithm: String,
    /// Signing time, `yyyymmddThhmmssZ`.
    pub date: String,
    /// Base64 of the policy document.
    pub policy: String,
    /// Hex HMAC-SHA256 of `policy` under the SigV4 signing key.
    pub signature: String,
}

/// Who signs policies: the S3 identity when blobs live in S3 (so a form would be accepted by
/// the bucket itself as well), or a locally derived one.
#[derive(Clone)]
pub struct PolicySigner {
    access_key_id: String,
    secret: String,
    region: String,
    bucket: String,
}

impl std::fmt::Debug for PolicySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySigner")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

/// Why a posted form is refused; each maps to S3's status and error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A required field is missing or malformed (400 InvalidArgument).
    #[error("{0}")]
    InvalidArgument(String),
    /// The signature does not match (403 SignatureDoesNotMatch).
    #[error("the request signature does not match")]
    SignatureDoesNotMatch,
    /// Unknown access key (403 InvalidAccessKeyId).
    #[error("the access key id is not known")]
    InvalidAccessKeyId,
    /// The policy expired or a condition failed (403 AccessDenied).
    #[error("invalid according to policy: {0}")]
    AccessDenied(String),
    /// The file is larger than the policy allows (400 EntityTooLarge).
    #[error("the upload exceeds the maximum allowed size")]
    EntityTooLarge,
    /// The file is smaller than the policy allows (400 EntityTooSmall).
    #[error("the upload is smaller than the minimum allowed size")]
    EntityTooSmall,
}

impl PolicyError {
    /// HTTP status S3 answers with.
    pub fn status(&self) -> u16 {
        match self {
            PolicyError::InvalidArgument(_)
            | PolicyError::EntityTooLarge
            | PolicyError::EntityTooSmall => 400,
            _ => 403,
        }
    }

    /// S3's error code.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::InvalidArgument(_) => "InvalidArgument",
            PolicyError::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            PolicyError::InvalidAccessKeyId => "InvalidAccessKeyId",
            PolicyError::AccessDenied(_) => "AccessDenied",
            PolicyError::EntityTooLarge => "EntityTooLarge",
            PolicyError::EntityTooSmall => "EntityTooSmall",
        }
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A policy that passed signature and expiry checks, with the conditions still to apply to
/// the form fields and the file.
#[derive(Debug)]
pub struct VerifiedPolicy {
    conditions: Vec<Condition>,
    bucket: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    Eq(String, String),
    StartsWith(String, String),
    LengthRange(u64, u64),
}

impl PolicySigner {
    /// A signer for `bucket` in `region` with the given access key pair.
    pub fn new(access_key_id: &str, secret: &str, region: &str, bucket: &str) -> Self {
        PolicySigner {
            access_key_id: access_key_id.to_owned(),
            secret: secret.to_owned(),
            region: region.to_owned(),
            bucket: bucket.to_owned(),
        }
    }

    /// The SigV4 signature of the base64 `policy` for the day of `date` (`yyyymmdd`).
    pub fn signature(&self, date: &str, region: &str, policy: &str) -> String {
        let k_date = hmac(format!("AWS4{}", self.secret).as_bytes(), date.as_bytes());
        let k_region = hmac(&k_date, region.as_bytes());
        let k_service = hmac(&k_region, b"s3");
        let k_signing = hmac(&k_service, b"aws4_request");
        hex::encode(hmac(&k_signing, policy.as_bytes()))
    }

    /// A form for uploading 1 byte to [`MAX_AVATAR_BYTES`] at `key`, valid for 30 minutes from
    /// `now_ms`.
    pub fn form(&self, key: &str, now_ms: i64) -> PostPolicyForm {
        self.form_with_limit(key, MAX_AVATAR_BYTES, now_ms)
    }

    /// [`PolicySigner::form`] with another size limit.
    pub fn form_with_limit(&self, key: &str, max_bytes: u64, now_ms: i64) -> PostPolicyForm {
        let now = Utc
            .timestamp_millis_opt(now_ms)
            .single()
            .unwrap_or_else(Utc::now);
        let day = now.format("%Y%m%d").to_string();
        let date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let expiration = (now + chrono::Duration::seconds(FORM_TTL_SECS))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let credential = format!(
            "{}/{day}/{}/s3/aws4_request",
            self.access_key_id, self.region
        );
        let document = json!({
            "expiration": expiration,
            "conditions": [
                {"bucket": self.bucket},
                {"key": key},
                {"acl": ACL},
                ["starts-with", "$Content-Type", ""],
                ["content-length-range", 1, max_bytes],
                {"x-amz-credential": credential},
                {"x-amz-algorithm": ALGORITHM},
                {"x-amz-date": date},
            ]
        });
        let policy = STANDARD.encode(document.to_string());
        let signature = self.signature(&day, &self.region, &policy);
        PostPolicyForm {
            key: key.to_owned(),
            credential,
            acl: ACL.to_owned(),
            algorithm: ALGORITHM.to_owned(),
            date,
            policy,
            signature,
        }
    }

    /// Checks a posted form's algorithm, credential scope, signature and expiry at `now_ms`.
    /// `fields` holds every form field before the file, names in lower case.
    pub fn verify(
        &self,
        fields: &[(String, String)],
        now_ms: i64,
    ) -> Result<VerifiedPolicy, PolicyError> {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let missing = |name: &str| PolicyError::InvalidArgument(format!("missing field {name}"));
        let policy = field("policy").ok_or_else(|| missing("policy"))?;
        let algorithm = field("x-amz-algorithm").ok_or_else(|| missing("x-amz-algorithm"))?;
        let credential = field("x-amz-credential").ok_or_else(|| missing("x-amz-credential"))?;
        let signature = field("x-amz-signature").ok_or_else(|| missing("x-amz-signature"))?;
        field("x-amz-date").ok_or_else(|| missing("x-amz-date"))?;
        if algorithm != ALGORITHM {
            return Err(PolicyError::InvalidArgument(
                "unsupported x-amz-algorithm".into(),
            ));
        }
        let scope: Vec<&str> = credential.split('/').collect();
        let [access, day, region, "s3", "aws4_request"] = scope[..] else {
            return Err(PolicyError::InvalidArgument(
                "malformed x-amz-credential".into(),
            ));
        };
        if access != self.access_key_id {
            return Err(PolicyError::InvalidAccessKeyId);
        }
        let expected = self.signature(day, region, policy);
        if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
            return Err(PolicyError::SignatureDoesNotMatch);
        }

        let bad = |why: &str| PolicyError::InvalidArgument(format!("policy: {why}"));
        let raw = STANDARD.decode(policy).map_err(|_| bad("not base64"))?;
        let doc: Value = serde_json::from_slice(&raw).map_err(|_| bad("not JSON"))?;
        let expiration = doc["expiration"]
            .as_str()
            .ok_or_else(|| bad("no expiration"))?;
        let expires = parse_expiration(expiration).ok_or_else(|| bad("bad expiration"))?;
        if now_ms >= expires.timestamp_millis() {
            return Err(PolicyError::AccessDenied("policy expired".into()));
        }
        let conditions = doc["conditions"]
            .as_array()
            .ok_or_else(|| bad("no conditions"))?
            .iter()
            .map(parse_condition)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("unsupported condition"))?;
        Ok(VerifiedPolicy {
            conditions,
            bucket: self.bucket.clone(),
        })
    }
}

fn parse_expiration(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.fZ")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// Field names in conditions are written `$name`; S3 compares them case-insensitively.
fn field_name(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    Some(s.strip_prefix('$').unwrap_or(s).to_ascii_lowercase())
}

fn parse_condition(v: &Value) -> Option<Condition> {
    if let Some(obj) = v.as_object() {
        let (k, v) = obj.iter().next().filter(|_| obj.len() == 1)?;
        return Some(Condition::Eq(
            k.to_ascii_lowercase(),
            v.as_str()?.to_owned(),
        ));
    }
    let arr = v.as_array()?;
    match arr.first()?.as_str()? {
        "eq" if arr.len() == 3 => Some(Condition::Eq(
            field_name(&arr[1])?,
            arr[2].as_str()?.to_owned(),
        )),
        "starts-with" if arr.len() == 3 => Some(Condition::StartsWith(
            field_name(&arr[1])?,
            arr[2].as_str()?.to_owned(),
        )),
        "content-length-range" if arr.len() == 3 => {
            Some(Condition::LengthRange(arr[1].as_u64()?, arr[2].as_u64()?))
        }
        _ => None,
    }
}

/// Fields that never need a condition.
fn exempt(name: &str) -> bool {
    matches!(name, "policy" | "x-amz-signature" | "file") || name.starts_with("x-ignore-")
}

impl VerifiedPolicy {
    /// Applies the field conditions: each must hold, and each posted field must be covered by
    /// one. Returns the allowed size range of the file.
    pub fn check_fields(
        &self,
        fields: &[(String, String)],
    ) -> Result<std::ops::RangeInclusive<u64>, PolicyError> {
        let value = |name: &str| -> Option<&str> {
            if name == "bucket" {
                return Some(&self.bucket);
            }
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let mut range = 0..=u64::MAX;
        for c in &self.conditions {
            match c {
                Condition::Eq(name, expected) => {
                    if value(name) != Some(expected.as_str()) {
                        return Err(PolicyError::AccessDenied(format!(
                            "condition failed: [\"eq\", \"${name}\", …]"
                        )));
                    }
                }
                Condition::StartsWith(name, prefix) => {
                    if !value(name).unwrap_or("").starts_with(prefix.as_str()) {
                        return Err(PolicyError::AccessDenied(format!(
                            "condition failed: [\"starts-with\", \"${name}\", …]"
                        )));
                    }
                }
                Condition::LengthRange(min, max) => range = *min..=*max,
            }
        }
        for (name, _) in fields {
            if exempt(name) {
                continue;
            }
            let covered = self.conditions.iter().any(|c| match c {
                Condition::Eq(n, _) | Condition::StartsWith(n, _) => n == name,
                Condition::LengthRange(..) => false,
            });
            if !covered {
                return Err(PolicyError::AccessDenied(format!(
                    "extra input field {name}"
                )));
            }
        }
        Ok(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    /// AWS's published SigV4 POST example (secret `wJalr…EXAMPLEKEY`, 2015-12-29, us-east-1),
    /// also used by the official server's tests.
    #[test]
    fn signature_matches_the_published_aws_example() {
        let signer = PolicySigner::new(
            "accessId",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "us-east-1",
            "bucket",
        );
        let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
        assert_eq!(
            signer.signature("20151229", "us-east-1", policy),
            "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
        );
    }

    fn signer() -> PolicySigner {
        PolicySigner::new("heliograph", "s3cret", "us-east-1", "avatars")
    }

    fn fields_of(form: &PostPolicyForm) -> Vec<(String, String)> {
        [
            ("acl", form.acl.as_str()),
            ("key", form.key.as_str()),
            ("policy", form.policy.as_str()),
            ("x-amz-algorithm", form.algorithm.as_str()),
            ("x-amz-credential", form.credential.as_str()),
            ("x-amz-date", form.date.as_str()),
            ("x-amz-signature", form.signature.as_str()),
            ("content-type", "application/octet-stream"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn form_has_the_official_shape_and_policy() {
        let form = signer().form("profiles/abc", NOW);
        assert_eq!(form.acl, "private");
        assert_eq!(form.algorithm, "AWS4-HMAC-SHA256");
        assert_eq!(form.date, "20260101T000000Z");
        assert_eq!(
            form.credential,
            "heliograph/20260101/us-east-1/s3/aws4_request"
        );
        let doc: Value = serde_json::from_slice(&STANDARD.decode(&form.policy).unwrap()).unwrap();
        assert_eq!(doc["expiration"], "2026-01-01T00:30:00Z");
        let conditions = doc["conditions"].as_array().unwrap();
        assert!(conditions.contains(&json!(["content-length-range", 1, 10485760])));
        assert!(conditions.contains(&json!({"key": "profiles/abc"})));
        assert!(conditions.contains(&json!(["starts-with", "$Content-Type", ""])));
        let golden = serde_json::to_value(&form).unwrap();
        let mut names: Vec<_> = golden.as_object().unwrap().keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "acl",
                "algorithm",
                "credential",
                "date",
                "key",
                "policy",
                "signature"
            ]
        );
    }

    #[test]
    fn a_fresh_form_verifies_and_gives_its_size_range() {
        let form = signer().form("profiles/abc", NOW);
        let fields = fields_of(&form);
        let policy = signer().verify(&fields, NOW + 1000).unwrap();
        assert_eq!(policy.check_fields(&fields).unwrap(), 1..=MAX_AVATAR_BYTES);
    }

    #[test]
    fn expiry_signature_key_and_extra_fields_are_enforced() {
        let s = signer();
        let form = s.form("profiles/abc", NOW);
        let fields = fields_of(&form);
        assert!(matches!(
            s.verify(&fields, NOW + FORM_TTL_SECS * 1000),
            Err(PolicyError::AccessDenied(_))
        ));

        let other = PolicySigner::new("heliograph", "other", "us-east-1", "avatars");
        assert_eq!(
            other.verify(&fields, NOW).unwrap_err(),
            PolicyError::SignatureDoesNotMatch
        );
        let stranger = PolicySigner::new("someone", "s3cret", "us-east-1", "avatars");
        assert_eq!(
            stranger.verify(&fields, NOW).unwrap_err(),
            PolicyError::InvalidAccessKeyId
        );

        let mut moved = fields.clone();
        moved[1].1 = "profiles/other".into();
        let p = s.verify(&moved, NOW).unwrap();
        assert!(matches!(
            p.check_fields(&moved),
            Err(PolicyError::AccessDenied(_))
        ));

        let mut extra = fields.clone();
        extra.push(("success_action_redirect".into(), "https://x".into()));
        let p = s.verify(&extra, NOW).unwrap();
        assert!(matches!(
            p.check_fields(&extra),
            Err(PolicyError::AccessDenied(_))
        ));

        let mut tampered = fields.clone();
        tampered[2].1 = STANDARD.encode(r#"{"expiration":"2099-01-01T00:00:00Z","conditions":[]}"#);
        assert_eq!(
            s.verify(&tampered, NOW).unwrap_err(),
            PolicyError::SignatureDoesNotMatch
        );

        let missing: Vec<_> = fields
            .iter()
            .filter(|(k, _)| k != "policy")
            .cloned()
            .collect();
        assert!(matches!(
            s.verify(&missing, NOW),
            Err(PolicyError::InvalidArgument(_))
        ));
    }

    #[test]
    fn java_style_expirations_parse() {
        assert!(parse_expiration("2015-12-30T12:00:00.000Z").is_some());
        assert!(parse_expiration("2026-01-01T00:30:00Z").is_some());
        assert!(parse_expiration("tomorrow").is_none());
    }
}
