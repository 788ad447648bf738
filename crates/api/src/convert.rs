//! Conversions between the wire bodies of `heliograph-protocol` and the domain inputs and
//! outputs of `heliograph-chat`. Key material is parsed and range-checked here (422 on
//! failure); signatures are checked by the domain.

use heliograph_chat::keys::{EcPreKey, PreKeyBundle, SetKeys, SignedEcPreKey, SignedKemPreKey};
use heliograph_chat::messages::{OutgoingMessage, SendRequest};
use heliograph_chat::registration::{AttributesInput, NumberProof, RegistrationInput, SessionUpdate};
use heliograph_chat::registration::parse_session_id;
use heliograph_protocol::json as wire;
use heliograph_storage::Account;
use heliograph_types::{DeviceId, KemPublicKey, PublicKey, Redacted, ServiceId, Signature, E164};

use crate::error::{ApiError, ApiResult};

fn ec_public(bytes: &[u8]) -> ApiResult<PublicKey> {
    PublicKey::from_bytes(bytes).map_err(|_| ApiError::unprocessable("invalid EC public key"))
}

fn kem_public(bytes: &[u8]) -> ApiResult<KemPublicKey> {
    KemPublicKey::from_bytes(bytes).map_err(|_| ApiError::unprocessable("invalid KEM public key"))
}

fn signature(bytes: &[u8]) -> ApiResult<Signature> {
    Signature::from_bytes(bytes).map_err(|_| ApiError::unprocessable("invalid signature"))
}

fn ec_one_time(k: &wire::EcPreKey) -> ApiResult<EcPreKey> {
    Ok(EcPreKey {
        key_id: k.key_id,
        public_key: ec_public(&k.public_key)?,
    })
}

fn ec_signed(k: &wire::EcSignedPreKey) -> ApiResult<SignedEcPreKey> {
    Ok(SignedEcPreKey {
        key_id: k.key_id,
        public_key: ec_public(&k.public_key)?,
        signature: signature(&k.signature)?,
    })
}

fn kem_signed(k: &wire::KemSignedPreKey) -> ApiResult<SignedKemPreKey> {
    Ok(SignedKemPreKey {
        key_id: k.key_id,
        public_key: kem_public(&k.public_key)?,
        signature: signature(&k.signature)?,
    })
}

/// Verification-session fields into a domain update.
pub fn session_update(
    push_token: Option<String>,
    push_token_type: Option<String>,
    push_challenge: Option<String>,
    captcha: Option<String>,
) -> ApiResult<SessionUpdate> {
    Ok(SessionUpdate {
        push_token: push_token.map(Redacted::new),
        push_token_type: push_token_type.map(|t| t.to_ascii_lowercase()),
        push_challenge: push_challenge.map(Redacted::new),
        captcha: captcha.map(Redacted::new),
    })
}

/// `AccountAttributes` into the domain form.
pub fn attributes(a: wire::AccountAttributes) -> ApiResult<AttributesInput> {
    Ok(AttributesInput {
        fetches_messages: a.fetches_messages,
        registration_id: a.registration_id,
        pni_registration_id: a.pni_registration_id,
        name: a.name,
        capabilities: AttributesInput::capabilities_from(a.capabilities.iter()),
        registration_lock: a.registration_lock,
        unidentified_access_key: a.unidentified_access_key,
        unrestricted_unidentified_access: a.unrestricted_unidentified_access,
        discoverable_by_phone_number: a.discoverable_by_phone_number,
        recovery_password: a.recovery_password,
    })
}

/// `RegistrationRequest` into the domain form.
pub fn registration_input(
    req: wire::RegistrationRequest,
    number: E164,
    password: Redacted<String>,
    user_agent: Option<String>,
) -> ApiResult<RegistrationInput> {
    let proof = match (req.session_id, req.recovery_password) {
        (Some(id), None) => NumberProof::Session(parse_session_id(&id)?),
        (None, Some(pw)) => NumberProof::RecoveryPassword(pw),
        _ => return Err(ApiError::unprocessable("exactly one of sessionId and recoveryPassword is required")),
    };
    let (Some(aci_key), Some(pni_key)) = (req.aci_identity_key, req.pni_identity_key) else {
        return Err(ApiError::unprocessable("aciIdentityKey and pniIdentityKey are required"));
    };
    let (Some(aci_spk), Some(pni_spk), Some(aci_pq), Some(pni_pq)) = (
        req.aci_signed_pre_key,
        req.pni_signed_pre_key,
        req.aci_pq_last_resort_pre_key,
        req.pni_pq_last_resort_pre_key,
    ) else {
        return Err(ApiError::unprocessable("all four signed prekeys are required"));
    };
    let (apn_token, gcm_token) = match (req.apn_token, req.gcm_token) {
        (Some(_), Some(_)) => return Err(ApiError::unprocessable("apnToken and gcmToken are exclusive")),
        (apn, gcm) => (apn.map(|t| t.apn_registration_id), gcm.map(|t| t.gcm_registration_id)),
    };
    Ok(RegistrationInput {
        number,
        password,
        proof,
        skip_device_transfer: req.skip_device_transfer,
        attributes: attributes(req.account_attributes)?,
        aci_identity_key: ec_public(&aci_key)?,
        pni_identity_key: ec_public(&pni_key)?,
        aci_signed_pre_key: ec_signed(&aci_spk)?,
        pni_signed_pre_key: ec_signed(&pni_spk)?,
        aci_pq_last_resort_pre_key: kem_signed(&aci_pq)?,
        pni_pq_last_resort_pre_key: kem_signed(&pni_pq)?,
        apn_token,
        gcm_token,
        user_agent,
    })
}

/// The whoami body.
pub fn account_identity(a: &Account) -> wire::AccountIdentityResponse {
    wire::AccountIdentityResponse {
        uuid: a.aci,
        number: a.e164.clone(),
        pni: a.pni,
        username_hash: None,
        username_link_handle: None,
        storage_capable: a.devices.iter().any(|d| d.capabilities.iter().any(|c| c == "storage")),
        entitlements: Default::default(),
    }
}

/// The registration response body.
pub fn account_creation(a: &Account, reregistration: bool) -> wire::AccountCreationResponse {
    wire::AccountCreationResponse {
        identity: account_identity(a),
        reregistration,
    }
}

/// `SetKeysRequest` into the domain form.
pub fn set_keys(req: wire::SetKeysRequest) -> ApiResult<SetKeys> {
    Ok(SetKeys {
        pre_keys: req.pre_keys.iter().map(ec_one_time).collect::<ApiResult<_>>()?,
        signed_pre_key: req.signed_pre_key.as_ref().map(ec_signed).transpose()?,
        pq_pre_keys: req.pq_pre_keys.iter().map(kem_signed).collect::<ApiResult<_>>()?,
        pq_last_resort_pre_key: req.pq_last_resort_pre_key.as_ref().map(kem_signed).transpose()?,
    })
}

/// A fetched bundle into `PreKeyResponse`.
pub fn pre_key_response(bundle: PreKeyBundle) -> wire::PreKeyResponse {
    wire::PreKeyResponse {
        identity_key: bundle.identity_key,
        devices: bundle
            .devices
            .into_iter()
            .map(|d| wire::PreKeyResponseItem {
                device_id: u32::from(d.device_id.get()),
                registration_id: d.registration_id,
                signed_pre_key: Some(wire::EcSignedPreKey {
                    key_id: d.signed_pre_key.key_id,
                    public_key: d.signed_pre_key.public_key,
                    signature: d.signed_pre_key.signature.unwrap_or_default(),
                }),
                pre_key: d.pre_key.map(|k| wire::EcPreKey {
                    key_id: k.key_id,
                    public_key: k.public_key,
                }),
                pq_pre_key: Some(wire::KemSignedPreKey {
                    key_id: d.pq_pre_key.key_id,
                    public_key: d.pq_pre_key.public_key,
                    signature: d.pq_pre_key.signature.unwrap_or_default(),
                }),
            })
            .collect(),
    }
}

/// `IncomingMessageList` into a domain send request.
pub fn send_request(destination: ServiceId, story: bool, body: wire::IncomingMessageList) -> ApiResult<SendRequest> {
    let messages = body
        .messages
        .into_iter()
        .map(|m| {
            Ok(OutgoingMessage {
                envelope_type: m.r#type,
                device: DeviceId::new(m.destination_device_id).map_err(|_| ApiError::unprocessable("invalid device id"))?,
                registration_id: m.destination_registration_id,
                content: m.content,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(SendRequest {
        destination,
        messages,
        online: body.online,
        urgent: body.urgent,
        story,
        timestamp: body.timestamp,
    })
}
