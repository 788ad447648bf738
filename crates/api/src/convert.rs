//! Conversions between the wire bodies of `heliograph-protocol` and the domain inputs and
//! outputs of `heliograph-chat`. Key material is parsed and range-checked here (422 on
//! failure); signatures are checked by the domain.

use heliograph_chat::keys::{EcPreKey, PreKeyBundle, SetKeys, SignedEcPreKey, SignedKemPreKey};
use heliograph_chat::messages::{OutgoingMessage, SendRequest};
use heliograph_chat::registration::parse_session_id;
use heliograph_chat::registration::{
    AttributesInput, NumberProof, RegistrationInput, SessionUpdate,
};
use heliograph_protocol::json as wire;
use heliograph_storage::Account;
use heliograph_types::{PublicKey, Redacted, ServiceId, Signature, E164};

use crate::error::{ApiError, ApiResult};

fn signature(bytes: &[u8]) -> ApiResult<Signature> {
    Signature::from_bytes(bytes).map_err(|_| ApiError::unprocessable("invalid signature"))
}

fn ec_one_time(k: &wire::EcPreKey) -> ApiResult<EcPreKey> {
    Ok(EcPreKey {
        key_id: k.key_id,
        public_key: k.public_key,
    })
}

fn ec_signed(k: &wire::EcSignedPreKey) -> ApiResult<SignedEcPreKey> {
    Ok(SignedEcPreKey {
        key_id: k.key_id,
        public_key: k.public_key,
        signature: signature(&k.signature)?,
    })
}

fn kem_signed(k: &wire::KemSignedPreKey) -> ApiResult<SignedKemPreKey> {
    Ok(SignedKemPreKey {
        key_id: k.key_id,
        public_key: k.public_key.clone(),
        signature: signature(&k.signature)?,
    })
}

/// Verification-session fields into a domain update.
pub fn session_update(
    push_token: Option<String>,
    push_token_type: Option<wire::PushTokenType>,
    push_challenge: Option<String>,
    captcha: Option<String>,
) -> ApiResult<SessionUpdate> {
    Ok(SessionUpdate {
        push_token: push_token.map(Redacted::new),
        push_token_type: push_token_type.map(|t| match t {
            wire::PushTokenType::Apn => "apn".to_owned(),
            wire::PushTokenType::Fcm => "fcm".to_owned(),
        }),
        push_challenge: push_challenge.map(Redacted::new),
        captcha: captcha.map(Redacted::new),
    })
}

/// `AccountAttributes` into the domain form.
pub fn attributes(a: wire::AccountAttributes) -> ApiResult<AttributesInput> {
    Ok(AttributesInput {
        fetches_messages: a.fetches_messages,
        registration_id: Some(a.registration_id.get()),
        pni_registration_id: a.pni_registration_id.map(|r| r.get()),
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
    let apn_token = req.apn_registration_id().map(str::to_owned);
    let gcm_token = req.gcm_registration_id().map(str::to_owned);
    let proof = match (req.session_id, req.recovery_password) {
        (Some(id), None) => NumberProof::Session(parse_session_id(&id)?),
        (None, Some(pw)) => NumberProof::RecoveryPassword(pw),
        _ => {
            return Err(ApiError::unprocessable(
                "exactly one of sessionId and recoveryPassword is required",
            ))
        }
    };
    // The PNI identity and its keys are all present or all absent; accounts here always have
    // a number, so they are required.
    let (Some(pni_key), Some(pni_spk), Some(pni_pq)) = (
        req.pni_identity_key,
        req.pni_signed_pre_key.as_ref(),
        req.pni_pq_last_resort_pre_key.as_ref(),
    ) else {
        return Err(ApiError::unprocessable(
            "pniIdentityKey, pniSignedPreKey and pniPqLastResortPreKey are required",
        ));
    };
    if apn_token.is_some() && gcm_token.is_some() {
        return Err(ApiError::unprocessable(
            "apnToken and gcmToken are exclusive",
        ));
    }
    Ok(RegistrationInput {
        number,
        password,
        proof,
        skip_device_transfer: req.skip_device_transfer,
        attributes: attributes(req.account_attributes)?,
        aci_identity_key: req.aci_identity_key,
        pni_identity_key: pni_key,
        aci_signed_pre_key: ec_signed(&req.aci_signed_pre_key)?,
        pni_signed_pre_key: ec_signed(pni_spk)?,
        aci_pq_last_resort_pre_key: kem_signed(&req.aci_pq_last_resort_pre_key)?,
        pni_pq_last_resort_pre_key: kem_signed(pni_pq)?,
        apn_token,
        gcm_token,
        user_agent,
    })
}

/// The whoami body.
pub fn account_identity(a: &Account) -> wire::AccountIdentityResponse {
    wire::AccountIdentityResponse {
        uuid: a.aci,
        number: Some(a.e164.clone()),
        pni: Some(a.pni),
        username_hash: None,
        username_link_handle: None,
        storage_capable: a
            .devices
            .iter()
            .any(|d| d.capabilities.iter().any(|c| c == "storage")),
        entitlements: Default::default(),
        auth_credential_salt: None,
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
        pre_keys: req
            .pre_keys
            .iter()
            .flatten()
            .map(ec_one_time)
            .collect::<ApiResult<_>>()?,
        signed_pre_key: req.signed_pre_key.as_ref().map(ec_signed).transpose()?,
        pq_pre_keys: req
            .pq_pre_keys
            .iter()
            .flatten()
            .map(kem_signed)
            .collect::<ApiResult<_>>()?,
        pq_last_resort_pre_key: req
            .pq_last_resort_pre_key
            .as_ref()
            .map(kem_signed)
            .transpose()?,
    })
}

/// A fetched bundle into `PreKeyResponse`. Stored keys were validated on upload, so a key that
/// no longer parses is an internal error.
pub fn pre_key_response(bundle: PreKeyBundle) -> ApiResult<wire::PreKeyResponse> {
    let corrupt = || {
        ApiError(heliograph_chat::ChatError::Internal(
            "stored key does not parse".into(),
        ))
    };
    let ec = |k: &[u8]| PublicKey::from_bytes(k).map_err(|_| corrupt());
    let mut devices = Vec::with_capacity(bundle.devices.len());
    for d in bundle.devices {
        devices.push(wire::PreKeyResponseItem {
            device_id: d.device_id,
            registration_id: heliograph_types::RegistrationId::new(d.registration_id)
                .map_err(|_| corrupt())?,
            signed_pre_key: wire::EcSignedPreKey {
                key_id: d.signed_pre_key.key_id,
                public_key: ec(&d.signed_pre_key.public_key)?,
                signature: d.signed_pre_key.signature.unwrap_or_default(),
            },
            pre_key: d
                .pre_key
                .map(|k| {
                    Ok::<_, ApiError>(wire::EcPreKey {
                        key_id: k.key_id,
                        public_key: ec(&k.public_key)?,
                    })
                })
                .transpose()?,
            pq_pre_key: wire::KemSignedPreKey {
                key_id: d.pq_pre_key.key_id,
                public_key: heliograph_types::KemPublicKey::from_bytes(&d.pq_pre_key.public_key)
                    .map_err(|_| corrupt())?,
                signature: d.pq_pre_key.signature.unwrap_or_default(),
            },
        });
    }
    Ok(wire::PreKeyResponse {
        identity_key: ec(&bundle.identity_key)?,
        devices,
    })
}

/// `IncomingMessageList` into a domain send request.
pub fn send_request(
    destination: ServiceId,
    story: bool,
    body: wire::IncomingMessageList,
) -> ApiResult<SendRequest> {
    let messages = body
        .messages
        .into_iter()
        .map(|m| {
            Ok(OutgoingMessage {
                envelope_type: m.message_type,
                device: m.destination_device_id,
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
