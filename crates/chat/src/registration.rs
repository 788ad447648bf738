//! Registration: verification sessions (captcha, push challenge, code request and check) and
//! `POST /v1/registration` (account creation and re-registration of a number).

use std::sync::Arc;

use base64::Engine;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use heliograph_storage::{Account, Device, SessionId, VerificationSession};
use heliograph_types::{Aci, DeviceId, Pni, PublicKey, Redacted, E164};

use crate::auth::{hash_secret, verify_secret};
use crate::codes::{CodeSender, Transport};
use crate::keys::{store_initial_keys, SignedEcPreKey, SignedKemPreKey};
use crate::{ChatError, ChatResult, Deps, SessionRejection};

/// How captchas are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptchaMode {
    /// Captcha is requested, and only `noop` scheme tokens (e.g. `noop.noop.registration.noop`)
    /// are accepted, as on the official test server.
    Noop,
    /// Captcha is never requested; a code may be requested right after creating the session.
    Off,
}

/// Registration settings.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// Captcha handling.
    pub captcha: CaptchaMode,
    /// How long a verification session lives after its last change, in milliseconds.
    pub session_ttl_ms: i64,
    /// Wrong codes allowed per session.
    pub max_code_attempts: u32,
    /// Codes that can be requested per session.
    pub max_code_requests: u32,
    /// Seconds between two code requests.
    pub resend_delay_secs: i64,
    /// Capabilities every new device must declare.
    pub required_capabilities: Vec<String>,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        Self {
            captcha: CaptchaMode::Noop,
            session_ttl_ms: 10 * 60 * 1000,
            max_code_attempts: 5,
            max_code_requests: 5,
            resend_delay_secs: 30,
            required_capabilities: vec!["spqr".into()],
        }
    }
}

/// Capability names the server knows; unknown names are dropped.
pub const KNOWN_CAPABILITIES: &[&str] = &[
    "storage",
    "transfer",
    "attachmentBackfill",
    "spqr",
    "profiles_v2",
    "usernameChangeSyncMessage",
    "optionalPhoneNumber",
];

/// What a session still needs before a code can be requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Requirement {
    /// Answer the push challenge sent to the device.
    PushChallenge,
    /// Solve a captcha.
    Captcha,
}

impl Requirement {
    /// The name clients see in `requestedInformation`.
    pub fn wire_name(&self) -> &'static str {
        match self {
            Requirement::PushChallenge => "pushChallenge",
            Requirement::Captcha => "captcha",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionState {
    number: E164,
    created_at_ms: i64,
    requested: Vec<Requirement>,
    #[serde(default)]
    push_challenge: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    code_sent_at_ms: Option<i64>,
    #[serde(default)]
    codes_sent: u32,
    #[serde(default)]
    check_attempts: u32,
    #[serde(default)]
    verified: bool,
    #[serde(default)]
    used: bool,
}

/// A session as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// The session id bytes (URL-safe base64 with padding on the wire).
    pub id: Vec<u8>,
    /// Seconds until an SMS may be requested; `None` if not allowed.
    pub next_sms: Option<i64>,
    /// Seconds until a voice call may be requested; `None` if not allowed.
    pub next_call: Option<i64>,
    /// Seconds until a code may be submitted; `None` if no code can be submitted.
    pub next_verification_attempt: Option<i64>,
    /// Whether a code may be requested now.
    pub allowed_to_request_code: bool,
    /// Outstanding requirements, in the order the client should satisfy them.
    pub requested_information: Vec<Requirement>,
    /// Whether the number was verified.
    pub verified: bool,
}

/// Inputs to create or update a session (already parsed from the request).
#[derive(Debug, Clone, Default)]
pub struct SessionUpdate {
    /// Push token to send a push challenge to.
    pub push_token: Option<Redacted<String>>,
    /// `apn` or `fcm`.
    pub push_token_type: Option<String>,
    /// Answer to a push challenge.
    pub push_challenge: Option<Redacted<String>>,
    /// Captcha token.
    pub captcha: Option<Redacted<String>>,
}

/// The registration service.
#[derive(Clone)]
pub struct Registration {
    deps: Deps,
    config: RegistrationConfig,
    sender: Arc<dyn CodeSender>,
}

/// Parses a session id from its URL-safe base64 form (padded or not).
pub fn parse_session_id(text: &str) -> ChatResult<SessionId> {
    let trimmed = text.trim_end_matches('=');
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
        .filter(|b| !b.is_empty() && b.len() <= 64)
        .map(SessionId)
        .ok_or_else(|| ChatError::BadRequest("invalid session id".into()))
}

fn session_tag(id: &SessionId) -> String {
    hex::encode(&id.0[..4.min(id.0.len())])
}

impl Registration {
    /// Builds the service.
    pub fn new(deps: Deps, config: RegistrationConfig, sender: Arc<dyn CodeSender>) -> Self {
        Self {
            deps,
            config,
            sender,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &RegistrationConfig {
        &self.config
    }

    fn view(&self, id: &SessionId, s: &SessionState, now: i64) -> SessionView {
        let allowed = !s.verified && s.requested.is_empty();
        let next_code = if allowed && s.codes_sent < self.config.max_code_requests {
            let wait = s
                .code_sent_at_ms
                .map(|t| (t + self.config.resend_delay_secs * 1000 - now).max(0) / 1000)
                .unwrap_or(0);
            Some(wait)
        } else {
            None
        };
        let next_attempt =
            (s.code.is_some() && !s.verified && s.check_attempts < self.config.max_code_attempts)
                .then_some(0);
        SessionView {
            id: id.0.clone(),
            next_sms: next_code,
            next_call: next_code,
            next_verification_attempt: next_attempt,
            allowed_to_request_code: allowed,
            requested_information: s.requested.clone(),
            verified: s.verified,
        }
    }

    async fn load(&self, id: &SessionId) -> ChatResult<SessionState> {
        let now = self.deps.clock.now_ms();
        let session = self
            .deps
            .stores
            .sessions
            .get(id, now)
            .await?
            .ok_or(ChatError::NotFound)?;
        serde_json::from_value(session.state)
            .map_err(|e| ChatError::Internal(format!("corrupt session: {e}")))
    }

    async fn save(&self, id: &SessionId, state: &SessionState) -> ChatResult<()> {
        let now = self.deps.clock.now_ms();
        let value = serde_json::to_value(state)
            .map_err(|e| ChatError::Internal(format!("session encode: {e}")))?;
        self.deps
            .stores
            .sessions
            .put(&VerificationSession {
                id: id.clone(),
                expires_at_ms: now + self.config.session_ttl_ms,
                state: value,
            })
            .await?;
        Ok(())
    }

    /// `POST /v1/verification/session`.
    pub async fn create_session(
        &self,
        number: E164,
        update: SessionUpdate,
    ) -> ChatResult<SessionView> {
        check_push_pair(&update)?;
        let mut id = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let id = SessionId(id);
        let now = self.deps.clock.now_ms();
        let mut state = SessionState {
            number,
            created_at_ms: now,
            requested: match self.config.captcha {
                CaptchaMode::Noop => vec![Requirement::Captcha],
                CaptchaMode::Off => vec![],
            },
            push_challenge: None,
            code: None,
            code_sent_at_ms: None,
            codes_sent: 0,
            check_attempts: 0,
            verified: false,
            used: false,
        };
        if let Err(rejection) = self.apply_update(&id, &mut state, update) {
            return Err(ChatError::Session(
                rejection,
                Box::new(self.view(&id, &state, now)),
            ));
        }
        self.save(&id, &state).await?;
        Ok(self.view(&id, &state, now))
    }

    /// `GET /v1/verification/session/{id}`.
    pub async fn get_session(&self, id: &SessionId) -> ChatResult<SessionView> {
        let state = self.load(id).await?;
        Ok(self.view(id, &state, self.deps.clock.now_ms()))
    }

    /// `PATCH /v1/verification/session/{id}`: a push token, a push challenge answer or a
    /// captcha. A wrong answer is refused with the session attached.
    pub async fn update_session(
        &self,
        id: &SessionId,
        update: SessionUpdate,
    ) -> ChatResult<SessionView> {
        check_push_pair(&update)?;
        let mut state = self.load(id).await?;
        let result = self.apply_update(id, &mut state, update);
        let now = self.deps.clock.now_ms();
        match result {
            Ok(()) => {
                self.save(id, &state).await?;
                Ok(self.view(id, &state, now))
            }
            Err(rejection) => Err(ChatError::Session(
                rejection,
                Box::new(self.view(id, &state, now)),
            )),
        }
    }

    fn apply_update(
        &self,
        id: &SessionId,
        state: &mut SessionState,
        update: SessionUpdate,
    ) -> Result<(), SessionRejection> {
        if update.push_token.is_some() && state.push_challenge.is_none() && !state.verified {
            let mut challenge = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut challenge);
            state.push_challenge = Some(hex::encode(challenge));
            if !state.requested.is_empty() && !state.requested.contains(&Requirement::PushChallenge)
            {
                state.requested.insert(0, Requirement::PushChallenge);
            }
            // Push delivery arrives with the push service; until then the challenge can only be
            // answered by a client that reads it some other way, and the captcha still works.
            tracing::info!(session = %session_tag(id), "push challenge created; no push provider is configured");
        }
        if let Some(answer) = &update.push_challenge {
            let ok = state
                .push_challenge
                .as_ref()
                .is_some_and(|c| bool::from(c.as_bytes().ct_eq(answer.expose().as_bytes())));
            if !ok {
                return Err(SessionRejection::WrongAnswer);
            }
            state.requested.clear();
        }
        if let Some(captcha) = &update.captcha {
            if !self.captcha_valid(captcha.expose()) {
                return Err(SessionRejection::WrongAnswer);
            }
            state.requested.clear();
        }
        Ok(())
    }

    fn captcha_valid(&self, token: &str) -> bool {
        let parts: Vec<&str> = token.splitn(4, '.').collect();
        if parts.len() != 4 {
            return false;
        }
        let (scheme, action) = (parts[0], parts[2]);
        match self.config.captcha {
            CaptchaMode::Noop | CaptchaMode::Off => scheme == "noop" && action == "registration",
        }
    }

    /// Whether a captcha string is well-formed (`scheme.siteKey.action.token`); a malformed one
    /// is a 400, a well-formed wrong one a 403.
    pub fn captcha_well_formed(token: &str) -> bool {
        token.splitn(4, '.').count() == 4
    }

    /// `POST /v1/verification/session/{id}/code`.
    pub async fn request_code(
        &self,
        id: &SessionId,
        transport: Transport,
    ) -> ChatResult<SessionView> {
        let mut state = self.load(id).await?;
        let now = self.deps.clock.now_ms();
        let refuse =
            |r, s: &SessionState| Err(ChatError::Session(r, Box::new(self.view(id, s, now))));
        if state.verified || !state.requested.is_empty() {
            return refuse(SessionRejection::Conflict, &state);
        }
        let view = self.view(id, &state, now);
        match view.next_sms {
            Some(0) => {}
            _ => return refuse(SessionRejection::NotAllowed, &state),
        }
        let code = Redacted::new(format!(
            "{:06}",
            rand::rngs::OsRng.gen_range(0..1_000_000u32)
        ));
        if let Err(e) = self
            .sender
            .send(&state.number, &code, transport, &session_tag(id))
            .await
        {
            return Err(ChatError::CodeDelivery {
                reason: e.reason(),
                permanent: e.permanent(),
            });
        }
        state.code = Some(code.into_inner());
        state.code_sent_at_ms = Some(now);
        state.codes_sent += 1;
        self.save(id, &state).await?;
        Ok(self.view(id, &state, now))
    }

    /// `PUT /v1/verification/session/{id}/code`.
    pub async fn submit_code(&self, id: &SessionId, code: &str) -> ChatResult<SessionView> {
        let mut state = self.load(id).await?;
        let now = self.deps.clock.now_ms();
        if state.verified || state.code.is_none() {
            return Err(ChatError::Session(
                SessionRejection::Conflict,
                Box::new(self.view(id, &state, now)),
            ));
        }
        if state.check_attempts >= self.config.max_code_attempts {
            return Err(ChatError::Session(
                SessionRejection::NotAllowed,
                Box::new(self.view(id, &state, now)),
            ));
        }
        let matches = self.sender.accepts_any_code()
            || state
                .code
                .as_ref()
                .is_some_and(|c| bool::from(c.as_bytes().ct_eq(code.trim().as_bytes())));
        if matches {
            state.verified = true;
            state.code = None;
        } else {
            state.check_attempts += 1;
        }
        self.save(id, &state).await?;
        Ok(self.view(id, &state, now))
    }

    /// `POST /v1/registration`.
    pub async fn register(&self, req: RegistrationInput) -> ChatResult<RegistrationOutcome> {
        let existing = self.deps.stores.accounts.get_by_e164(&req.number).await?;

        // Proof of number ownership.
        let mut verified_session = None;
        match &req.proof {
            NumberProof::Session(id) => {
                let state = self.load(id).await.map_err(|e| match e {
                    ChatError::NotFound => ChatError::BadRequest("invalid session id".into()),
                    other => other,
                })?;
                if state.number != req.number {
                    return Err(ChatError::BadRequest(
                        "session is for another number".into(),
                    ));
                }
                if !state.verified || state.used {
                    return Err(ChatError::Unauthorized);
                }
                verified_session = Some((id.clone(), state));
            }
            NumberProof::RecoveryPassword(password) => {
                let stored = existing.as_ref().and_then(|a| a.recovery_password.clone());
                let ok = stored.is_some_and(|s| verify_secret(&s, &hex::encode(password)));
                if !ok {
                    return Err(ChatError::Forbidden);
                }
            }
        }

        let attrs = &req.attributes;
        attrs.validate()?;
        for required in &self.config.required_capabilities {
            if !attrs.capabilities.iter().any(|c| c == required) {
                return Err(ChatError::MissingCapability);
            }
        }
        let (Some(registration_id), Some(pni_registration_id)) =
            (attrs.registration_id, attrs.pni_registration_id)
        else {
            return Err(ChatError::Unprocessable(
                "registration ids are required".into(),
            ));
        };
        let signatures_ok = req.aci_signed_pre_key.verify(&req.aci_identity_key)
            && req.aci_pq_last_resort_pre_key.verify(&req.aci_identity_key)
            && req.pni_signed_pre_key.verify(&req.pni_identity_key)
            && req.pni_pq_last_resort_pre_key.verify(&req.pni_identity_key);
        if !signatures_ok {
            return Err(ChatError::Unprocessable("invalid signature".into()));
        }

        let now = self.deps.clock.now_ms();
        if let Some(old) = &existing {
            let primary_transfers = old
                .device(DeviceId::PRIMARY)
                .is_some_and(|d| d.capabilities.iter().any(|c| c == "transfer"));
            if primary_transfers && !req.skip_device_transfer {
                return Err(ChatError::Conflict);
            }
            if let (Some(lock), NumberProof::Session(_)) = (&old.registration_lock, &req.proof) {
                let supplied = attrs.registration_lock.as_deref().unwrap_or_default();
                if !verify_secret(lock, supplied) {
                    let last_seen = old
                        .devices
                        .iter()
                        .map(|d| d.last_seen_ms)
                        .max()
                        .unwrap_or(now);
                    let remaining = (last_seen + REGISTRATION_LOCK_IDLE_MS - now).max(0);
                    if remaining > 0 {
                        self.deps.disconnector.disconnect_account(old.aci).await;
                        return Err(ChatError::RegistrationLocked {
                            time_remaining_ms: remaining,
                        });
                    }
                }
            }
        }

        let device = Device {
            id: DeviceId::PRIMARY,
            name: attrs.name.clone(),
            password: hash_secret(req.password.expose()),
            registration_id,
            pni_registration_id,
            capabilities: attrs.capabilities.clone(),
            fetches_messages: attrs.fetches_messages,
            apn_token: req.apn_token.clone(),
            gcm_token: req.gcm_token.clone(),
            user_agent: req.user_agent.clone(),
            created_at_ms: now,
            last_seen_ms: now,
        };
        let (aci, pni, reregistration) = match &existing {
            Some(old) => (old.aci, old.pni, true),
            None => (Aci::random(), Pni::random(), false),
        };
        let mut account = Account {
            aci,
            pni,
            e164: req.number.clone(),
            aci_identity_key: req.aci_identity_key.serialize().to_vec(),
            pni_identity_key: req.pni_identity_key.serialize().to_vec(),
            unidentified_access_key: attrs.unidentified_access_key.clone(),
            unrestricted_unidentified_access: attrs.unrestricted_unidentified_access,
            discoverable_by_phone_number: attrs.discoverable_by_phone_number,
            registration_lock: attrs.registration_lock.as_deref().map(hash_secret),
            recovery_password: attrs
                .recovery_password
                .as_ref()
                .map(|p| hash_secret(&hex::encode(p))),
            devices: vec![device],
            created_at_ms: now,
            current_profile_version: None,
            reserved_username_hash: None,
            version: 0,
            extra: Default::default(),
        };

        match existing {
            Some(old) => {
                // Re-registration keeps ACI and PNI and wipes everything else.
                account.version = old.version;
                account.created_at_ms = old.created_at_ms;
                self.deps.disconnector.disconnect_account(aci).await;
                self.deps
                    .stores
                    .accounts
                    .update(&mut account)
                    .await
                    .map_err(|e| match e {
                        heliograph_storage::StoreError::Stale => ChatError::Conflict,
                        other => other.into(),
                    })?;
                self.deps.stores.keys.delete_account(aci).await?;
                self.deps.stores.messages.delete_account(aci).await?;
            }
            None => {
                self.deps
                    .stores
                    .accounts
                    .create(&account)
                    .await
                    .map_err(|e| match e {
                        heliograph_storage::StoreError::Conflict(_) => ChatError::Conflict,
                        other => other.into(),
                    })?;
            }
        }
        store_initial_keys(
            &self.deps,
            aci,
            DeviceId::PRIMARY,
            (&req.aci_signed_pre_key, &req.aci_pq_last_resort_pre_key),
            (&req.pni_signed_pre_key, &req.pni_pq_last_resort_pre_key),
        )
        .await?;
        if let Some((id, mut state)) = verified_session {
            state.used = true;
            self.save(&id, &state).await?;
        }
        tracing::info!(%aci, reregistration, "account registered");
        Ok(RegistrationOutcome {
            account,
            reregistration,
        })
    }
}

/// Registration lock stays in force until the account has been idle this long.
pub const REGISTRATION_LOCK_IDLE_MS: i64 = 7 * 24 * 60 * 60 * 1000;

fn check_push_pair(update: &SessionUpdate) -> ChatResult<()> {
    if update.push_token.is_some() != update.push_token_type.is_some() {
        return Err(ChatError::Unprocessable(
            "pushToken and pushTokenType go together".into(),
        ));
    }
    if let Some(kind) = &update.push_token_type {
        if kind != "apn" && kind != "fcm" {
            return Err(ChatError::Unprocessable(
                "pushTokenType must be apn or fcm".into(),
            ));
        }
    }
    Ok(())
}

/// Account attributes as a client sends them (registration, linking, `PUT /v1/accounts/attributes/`).
#[derive(Debug, Clone, Default)]
pub struct AttributesInput {
    /// Whether the device polls instead of receiving pushes.
    pub fetches_messages: bool,
    /// ACI registration id.
    pub registration_id: Option<u32>,
    /// PNI registration id.
    pub pni_registration_id: Option<u32>,
    /// Encrypted device name.
    pub name: Option<Vec<u8>>,
    /// Capabilities declared true.
    pub capabilities: Vec<String>,
    /// Registration lock token (64 hex characters), if any.
    pub registration_lock: Option<String>,
    /// 16-byte unidentified access key.
    pub unidentified_access_key: Option<Vec<u8>>,
    /// Whether any access key opens sealed-sender access.
    pub unrestricted_unidentified_access: bool,
    /// Whether the number is discoverable.
    pub discoverable_by_phone_number: bool,
    /// Registration recovery password.
    pub recovery_password: Option<Vec<u8>>,
}

/// Longest encrypted device name accepted.
pub const MAX_DEVICE_NAME_LEN: usize = 225;

impl AttributesInput {
    /// Builds the capability list from a name→bool map, keeping only known names set to true.
    pub fn capabilities_from<'a>(
        map: impl IntoIterator<Item = (&'a String, &'a bool)>,
    ) -> Vec<String> {
        let mut caps: Vec<String> = map
            .into_iter()
            .filter(|(name, on)| **on && KNOWN_CAPABILITIES.contains(&name.as_str()))
            .map(|(name, _)| name.clone())
            .collect();
        caps.sort();
        caps
    }

    /// Field checks the official server makes with bean validation (422 on failure).
    pub fn validate(&self) -> ChatResult<()> {
        let bad = |m: &str| Err(ChatError::Unprocessable(m.into()));
        for id in [self.registration_id, self.pni_registration_id]
            .into_iter()
            .flatten()
        {
            if heliograph_types::RegistrationId::new(id).is_err() {
                return bad("registration id out of range");
            }
        }
        if !self.unrestricted_unidentified_access
            && self
                .unidentified_access_key
                .as_ref()
                .is_some_and(|k| k.len() != 16)
        {
            return bad("unidentifiedAccessKey must be 16 bytes");
        }
        if self
            .name
            .as_ref()
            .is_some_and(|n| n.len() > MAX_DEVICE_NAME_LEN)
        {
            return bad("device name too long");
        }
        // Clients send a 64-hex-character token; the server only stores its salted hash, so
        // any non-empty value of sane length is accepted.
        if self
            .registration_lock
            .as_ref()
            .is_some_and(|l| l.is_empty() || l.len() > 256)
        {
            return bad("registrationLock must be 1 to 256 characters");
        }
        Ok(())
    }
}

/// How the registering client proves it owns the number.
#[derive(Debug, Clone)]
pub enum NumberProof {
    /// A verified verification session.
    Session(SessionId),
    /// The registration recovery password stored by a previous registration.
    RecoveryPassword(Vec<u8>),
}

/// A parsed `POST /v1/registration`.
#[derive(Debug, Clone)]
pub struct RegistrationInput {
    /// The number from the Basic auth username.
    pub number: E164,
    /// The new primary device's password.
    pub password: Redacted<String>,
    /// Proof of ownership.
    pub proof: NumberProof,
    /// Whether to skip the device-transfer offer.
    pub skip_device_transfer: bool,
    /// Account attributes.
    pub attributes: AttributesInput,
    /// ACI identity key.
    pub aci_identity_key: PublicKey,
    /// PNI identity key.
    pub pni_identity_key: PublicKey,
    /// ACI signed EC prekey.
    pub aci_signed_pre_key: SignedEcPreKey,
    /// PNI signed EC prekey.
    pub pni_signed_pre_key: SignedEcPreKey,
    /// ACI last-resort KEM prekey.
    pub aci_pq_last_resort_pre_key: SignedKemPreKey,
    /// PNI last-resort KEM prekey.
    pub pni_pq_last_resort_pre_key: SignedKemPreKey,
    /// APNs token.
    pub apn_token: Option<String>,
    /// FCM token.
    pub gcm_token: Option<String>,
    /// The `X-Signal-Agent` or `User-Agent` value.
    pub user_agent: Option<String>,
}

/// The result of a registration.
#[derive(Debug, Clone)]
pub struct RegistrationOutcome {
    /// The account as stored.
    pub account: Account,
    /// Whether an existing account for the number was replaced.
    pub reregistration: bool,
}
