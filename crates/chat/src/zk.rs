//! zkgroup on the chat server: group auth credentials (`GET /v1/certificate/auth/group`) and
//! group send token checks for sealed-sender sends and prekey fetches.

use rand::rngs::OsRng;

use heliograph_storage::Account;
use heliograph_types::ServiceId;
use heliograph_zk::endorsements::{GroupSendDerivedKeyPair, GroupSendFullToken};
use heliograph_zk::{ServerSecretParams, SECONDS_PER_DAY};

use crate::{ChatError, ChatResult};

/// Longest redemption window, in days.
pub const MAX_REDEMPTION_DAYS: u64 = 7;

/// How long an expiring profile key credential lasts, in days.
pub const PROFILE_KEY_CREDENTIAL_DAYS: u64 = 7;

/// One day's group auth credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCredential {
    /// Serialized `AuthCredentialWithPniResponse`.
    pub credential: Vec<u8>,
    /// The day (epoch seconds, day-aligned) it can be redeemed.
    pub redemption_time: u64,
}

/// The zkgroup services of the chat server.
pub struct ZkService {
    secret: ServerSecretParams,
}

impl ZkService {
    /// Uses the server's secret params (loaded once at start-up).
    pub fn new(secret: ServerSecretParams) -> Self {
        Self { secret }
    }

    /// Issues one credential per day in `[start, end]` (inclusive, epoch seconds), following
    /// the official window rules: day-aligned bounds, start no earlier than yesterday, end no
    /// later than today + 8 days, at most 7 days apart. Anything else is a 400.
    pub fn group_auth_credentials(
        &self,
        account: &Account,
        start: u64,
        end: u64,
        now_ms: i64,
    ) -> ChatResult<Vec<DayCredential>> {
        let bad = |m: &str| Err(ChatError::BadRequest(m.into()));
        let today = (now_ms.max(0) as u64 / 1000) / SECONDS_PER_DAY * SECONDS_PER_DAY;
        let yesterday = today.saturating_sub(SECONDS_PER_DAY);
        if start > end {
            return bad("end of range must be after start of range");
        }
        if start % SECONDS_PER_DAY != 0 || end % SECONDS_PER_DAY != 0 {
            return bad("timestamps must be day aligned");
        }
        if start < yesterday {
            return bad("start of range too far in the past");
        }
        if end > today + (MAX_REDEMPTION_DAYS + 1) * SECONDS_PER_DAY {
            return bad("end of range too far in the future");
        }
        if end > start + MAX_REDEMPTION_DAYS * SECONDS_PER_DAY {
            return bad("redemption window too large");
        }
        let mut out = Vec::new();
        let mut day = start;
        while day <= end {
            let credential = self
                .secret
                .issue_auth_credential_with_pni_zkc(&mut OsRng, account.aci, account.pni, day)
                .map_err(|e| ChatError::Internal(format!("auth credential: {e}")))?;
            out.push(DayCredential {
                credential,
                redemption_time: day,
            });
            day += SECONDS_PER_DAY;
        }
        Ok(out)
    }

    /// Issues an `ExpiringProfileKeyCredentialResponse` for `aci` from a client's
    /// `ProfileKeyCredentialRequest`, valid until seven days from now truncated to the day
    /// (as the official server does). A request for another profile key than the one
    /// `commitment` binds, or one that does not parse, is a 400.
    pub fn expiring_profile_key_credential(
        &self,
        request: &[u8],
        aci: heliograph_types::Aci,
        commitment: &[u8],
        now_ms: i64,
    ) -> ChatResult<Vec<u8>> {
        let now = now_ms.max(0) as u64 / 1000;
        let expiration = (now + PROFILE_KEY_CREDENTIAL_DAYS * SECONDS_PER_DAY) / SECONDS_PER_DAY
            * SECONDS_PER_DAY;
        self.secret
            .issue_expiring_profile_key_credential(&mut OsRng, request, aci, commitment, expiration)
            .map_err(|e| match e {
                heliograph_zk::ZkError::InvalidArgument(m) => {
                    ChatError::Internal(format!("profile key credential: {m}"))
                }
                _ => ChatError::BadRequest("invalid profile key credential request".into()),
            })
    }

    /// Checks a `GroupSendFullToken` endorses exactly `members` now; 401 otherwise.
    pub fn verify_group_send_token(
        &self,
        token: &[u8],
        members: &[ServiceId],
        now_ms: i64,
    ) -> ChatResult<()> {
        let token = GroupSendFullToken::deserialize(token).map_err(|_| ChatError::Unauthorized)?;
        let key_pair = GroupSendDerivedKeyPair::for_expiration(token.expiration(), &self.secret);
        token
            .verify(members, now_ms.max(0) as u64 / 1000, &key_pair)
            .map_err(|_| ChatError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heliograph_storage::{Device, SaltedHash};
    use heliograph_types::{Aci, DeviceId, Pni, E164};

    const DAY_MS: i64 = 86_400_000;

    fn account() -> Account {
        Account {
            aci: Aci::random(),
            pni: Pni::random(),
            e164: E164::parse("+15550001111").unwrap(),
            aci_identity_key: vec![],
            pni_identity_key: vec![],
            unidentified_access_key: None,
            unrestricted_unidentified_access: false,
            discoverable_by_phone_number: true,
            registration_lock: None,
            recovery_password: None,
            devices: vec![Device {
                id: DeviceId::PRIMARY,
                name: None,
                password: SaltedHash {
                    hash: String::new(),
                    salt: String::new(),
                },
                registration_id: 1,
                pni_registration_id: 2,
                capabilities: vec![],
                fetches_messages: true,
                apn_token: None,
                gcm_token: None,
                user_agent: None,
                created_at_ms: 0,
                last_seen_ms: 0,
            }],
            created_at_ms: 0,
            current_profile_version: None,
            reserved_username_hash: None,
            version: 0,
            extra: Default::default(),
        }
    }

    #[test]
    fn redemption_windows() {
        let zk = ZkService::new(ServerSecretParams::generate(&mut OsRng));
        let a = account();
        let now = 20_000 * DAY_MS + 5_000;
        let today = 20_000 * 86_400u64;
        let d = 86_400u64;
        let creds = zk
            .group_auth_credentials(&a, today, today + 7 * d, now)
            .unwrap();
        assert_eq!(creds.len(), 8, "one per day, inclusive");
        assert_eq!(creds[0].redemption_time, today);
        assert_eq!(creds[0].credential.len(), 425);
        assert_eq!(
            zk.group_auth_credentials(&a, today - d, today, now)
                .unwrap()
                .len(),
            2
        );
        for (s, e) in [
            (today + 1, today + d),     // not aligned
            (today + d, today),         // reversed
            (today - 2 * d, today),     // too far back
            (today + d, today + 9 * d), // too far ahead
            (today - d, today + 7 * d), // window too large
        ] {
            assert!(
                matches!(
                    zk.group_auth_credentials(&a, s, e, now),
                    Err(ChatError::BadRequest(_))
                ),
                "{s} {e}"
            );
        }
    }

    #[test]
    fn garbage_tokens_are_unauthorized() {
        let zk = ZkService::new(ServerSecretParams::generate(&mut OsRng));
        let members = [ServiceId::Aci(Aci::random())];
        assert!(matches!(
            zk.verify_group_send_token(&[], &members, 0),
            Err(ChatError::Unauthorized)
        ));
        assert!(matches!(
            zk.verify_group_send_token(&[0u8; 33], &members, 0),
            Err(ChatError::Unauthorized)
        ));
    }
}
