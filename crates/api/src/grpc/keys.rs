//! `org.signal.chat.keys.Keys` and `KeysAnonymous`: the prekey API libsignal's typed key calls
//! use over HTTP/2.

use std::collections::HashMap;

use tonic::{Request, Response, Status};

use heliograph_chat::keys::{
    self as domain, Access, DeviceSelector, EcPreKey, PreKeyBundle, SetKeys, SignedEcPreKey,
    SignedKemPreKey,
};
use heliograph_chat::ChatError;
use heliograph_protocol::grpc::{common, errors, keys as pb};
use heliograph_storage::{IdentityType, StoredPreKey};
use heliograph_types::{Aci, DeviceId, KemPublicKey, Pni, PublicKey, ServiceId, Signature};

use super::{anonymous, authenticated, status};
use crate::state::AppState;

/// The authenticated service.
pub fn server(state: AppState) -> pb::keys_server::KeysServer<KeysService> {
    pb::keys_server::KeysServer::new(KeysService { state })
}

/// The anonymous service.
pub fn anonymous_server(
    state: AppState,
) -> pb::keys_anonymous_server::KeysAnonymousServer<KeysService> {
    pb::keys_anonymous_server::KeysAnonymousServer::new(KeysService { state })
}

/// Implements both key services over the domain key functions.
pub struct KeysService {
    state: AppState,
}

fn identity_type(raw: i32) -> Result<IdentityType, Status> {
    match common::IdentityType::try_from(raw) {
        Ok(common::IdentityType::Aci) => Ok(IdentityType::Aci),
        Ok(common::IdentityType::Pni) => Ok(IdentityType::Pni),
        _ => Err(Status::invalid_argument("identity type must be ACI or PNI")),
    }
}

pub(crate) fn service_id(id: Option<&common::ServiceIdentifier>) -> Result<ServiceId, Status> {
    let id = id.ok_or_else(|| Status::invalid_argument("target required"))?;
    let uuid: [u8; 16] = id
        .uuid
        .as_slice()
        .try_into()
        .map_err(|_| Status::invalid_argument("uuid must be 16 bytes"))?;
    let uuid = uuid::Uuid::from_bytes(uuid);
    match common::IdentityType::try_from(id.identity_type) {
        Ok(common::IdentityType::Aci) => Ok(ServiceId::Aci(Aci::from_uuid(uuid))),
        Ok(common::IdentityType::Pni) => Ok(ServiceId::Pni(Pni::from_uuid(uuid))),
        _ => Err(Status::invalid_argument("identity type must be ACI or PNI")),
    }
}

fn key_id(id: i32) -> Result<u32, Status> {
    u32::try_from(id).map_err(|_| Status::invalid_argument("key id must not be negative"))
}

fn ec_key(k: &common::EcPreKey) -> Result<EcPreKey, Status> {
    Ok(EcPreKey {
        key_id: key_id(k.key_id)?,
        public_key: PublicKey::from_bytes(&k.public_key)
            .map_err(|_| Status::invalid_argument("invalid EC key"))?,
    })
}

fn ec_signed(k: Option<&common::EcSignedPreKey>) -> Result<SignedEcPreKey, Status> {
    let k = k.ok_or_else(|| Status::invalid_argument("signed prekey required"))?;
    Ok(SignedEcPreKey {
        key_id: key_id(k.key_id)?,
        public_key: PublicKey::from_bytes(&k.public_key)
            .map_err(|_| Status::invalid_argument("invalid EC key"))?,
        signature: Signature::from_bytes(&k.signature)
            .map_err(|_| Status::invalid_argument("invalid signature"))?,
    })
}

fn kem_signed(k: Option<&common::KemSignedPreKey>) -> Result<SignedKemPreKey, Status> {
    let k = k.ok_or_else(|| Status::invalid_argument("signed prekey required"))?;
    Ok(SignedKemPreKey {
        key_id: key_id(k.key_id)?,
        public_key: KemPublicKey::from_bytes(&k.public_key)
            .map_err(|_| Status::invalid_argument("invalid KEM key"))?,
        signature: Signature::from_bytes(&k.signature)
            .map_err(|_| Status::invalid_argument("invalid signature"))?,
    })
}

fn to_bundles(bundle: PreKeyBundle) -> pb::AccountPreKeyBundles {
    let signed = |k: StoredPreKey| common::EcSignedPreKey {
        key_id: k.key_id as i32,
        public_key: k.public_key,
        signature: k.signature.unwrap_or_default(),
    };
    let mut device_pre_keys = HashMap::new();
    for d in bundle.devices {
        device_pre_keys.insert(
            u32::from(d.device_id.get()),
            pb::DevicePreKeyBundle {
                ec_signed_pre_key: Some(signed(d.signed_pre_key)),
                ec_one_time_pre_key: d.pre_key.map(|k| common::EcPreKey {
                    key_id: k.key_id as i32,
                    public_key: k.public_key,
                }),
                kem_one_time_pre_key: Some(common::KemSignedPreKey {
                    key_id: d.pq_pre_key.key_id as i32,
                    public_key: d.pq_pre_key.public_key,
                    signature: d.pq_pre_key.signature.unwrap_or_default(),
                }),
                registration_id: d.registration_id,
            },
        );
    }
    pb::AccountPreKeyBundles {
        identity_key: bundle.identity_key,
        device_pre_keys,
        ..Default::default()
    }
}

fn selector(device: Option<u32>) -> Result<DeviceSelector, Status> {
    match device {
        None => Ok(DeviceSelector::All),
        Some(id) => DeviceId::new(id)
            .map(DeviceSelector::One)
            .map_err(|_| Status::invalid_argument("invalid device id")),
    }
}

impl KeysService {
    async fn set(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        identity: i32,
        keys: SetKeys,
    ) -> Result<Response<pb::SetPreKeyResponse>, Status> {
        let auth = authenticated(&self.state, metadata).await?;
        domain::set_keys(&self.state.deps, &auth, identity_type(identity)?, keys)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::SetPreKeyResponse {}))
    }
}

#[tonic::async_trait]
impl pb::keys_server::Keys for KeysService {
    async fn get_pre_key_count(
        &self,
        request: Request<pb::GetPreKeyCountRequest>,
    ) -> Result<Response<pb::GetPreKeyCountResponse>, Status> {
        let auth = authenticated(&self.state, request.metadata()).await?;
        let aci = domain::count(&self.state.deps, &auth, IdentityType::Aci)
            .await
            .map_err(status)?;
        let pni = domain::count(&self.state.deps, &auth, IdentityType::Pni)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::GetPreKeyCountResponse {
            aci_ec_pre_key_count: aci.ec,
            aci_kem_pre_key_count: aci.kem,
            pni_ec_pre_key_count: pni.ec,
            pni_kem_pre_key_count: pni.kem,
        }))
    }

    async fn get_pre_keys(
        &self,
        request: Request<pb::GetPreKeysRequest>,
    ) -> Result<Response<pb::GetPreKeysResponse>, Status> {
        let auth = authenticated(&self.state, request.metadata()).await?;
        let req = request.into_inner();
        let target = service_id(req.target_identifier.as_ref())?;
        let access = Access::Account(Box::new(auth));
        let response =
            match domain::fetch_bundle(&self.state.deps, target, selector(req.device_id)?, &access)
                .await
            {
                Ok(bundle) => pb::get_pre_keys_response::Response::PreKeys(to_bundles(bundle)),
                Err(ChatError::NotFound) => {
                    pb::get_pre_keys_response::Response::TargetNotFound(errors::NotFound {})
                }
                Err(e) => return Err(status(e)),
            };
        Ok(Response::new(pb::GetPreKeysResponse {
            response: Some(response),
        }))
    }

    async fn set_one_time_ec_pre_keys(
        &self,
        request: Request<pb::SetOneTimeEcPreKeysRequest>,
    ) -> Result<Response<pb::SetPreKeyResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        if req.pre_keys.is_empty() {
            return Err(Status::invalid_argument("at least one key required"));
        }
        let keys = SetKeys {
            pre_keys: req.pre_keys.iter().map(ec_key).collect::<Result<_, _>>()?,
            ..Default::default()
        };
        self.set(&metadata, req.identity_type, keys).await
    }

    async fn set_one_time_kem_signed_pre_keys(
        &self,
        request: Request<pb::SetOneTimeKemSignedPreKeysRequest>,
    ) -> Result<Response<pb::SetPreKeyResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        if req.pre_keys.is_empty() {
            return Err(Status::invalid_argument("at least one key required"));
        }
        let keys = SetKeys {
            pq_pre_keys: req
                .pre_keys
                .iter()
                .map(|k| kem_signed(Some(k)))
                .collect::<Result<_, _>>()?,
            ..Default::default()
        };
        self.set(&metadata, req.identity_type, keys).await
    }

    async fn set_ec_signed_pre_key(
        &self,
        request: Request<pb::SetEcSignedPreKeyRequest>,
    ) -> Result<Response<pb::SetPreKeyResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let keys = SetKeys {
            signed_pre_key: Some(ec_signed(req.signed_pre_key.as_ref())?),
            ..Default::default()
        };
        self.set(&metadata, req.identity_type, keys).await
    }

    async fn set_kem_last_resort_pre_key(
        &self,
        request: Request<pb::SetKemLastResortPreKeyRequest>,
    ) -> Result<Response<pb::SetPreKeyResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let keys = SetKeys {
            pq_last_resort_pre_key: Some(kem_signed(req.signed_pre_key.as_ref())?),
            ..Default::default()
        };
        self.set(&metadata, req.identity_type, keys).await
    }
}

#[tonic::async_trait]
impl pb::keys_anonymous_server::KeysAnonymous for KeysService {
    async fn get_pre_keys(
        &self,
        request: Request<pb::GetPreKeysAnonymousRequest>,
    ) -> Result<Response<pb::GetPreKeysAnonymousResponse>, Status> {
        anonymous(request.metadata())?;
        let req = request.into_inner();
        let inner = req
            .request
            .ok_or_else(|| Status::invalid_argument("request required"))?;
        let target = service_id(inner.target_identifier.as_ref())?;
        use pb::get_pre_keys_anonymous_request::Authorization;
        use pb::get_pre_keys_anonymous_response::Response as R;
        let access = match req.authorization {
            Some(Authorization::UnidentifiedAccessKey(k)) => {
                match <[u8; 16]>::try_from(k.as_slice()) {
                    Ok(key) => Access::AccessKey(key),
                    Err(_) => {
                        return Ok(Response::new(pb::GetPreKeysAnonymousResponse {
                            response: Some(R::FailedUnidentifiedAuthorization(
                                errors::FailedUnidentifiedAuthorization {
                                    description: "access key must be 16 bytes".into(),
                                },
                            )),
                        }))
                    }
                }
            }
            // Unrestricted access: any 16-byte key opens an unrestricted account.
            Some(Authorization::UnrestrictedAccess(_)) => Access::AccessKey([0u8; 16]),
            Some(Authorization::GroupSendToken(_)) => {
                return Err(Status::unimplemented(
                    "group send tokens are not supported yet",
                ))
            }
            None => return Err(Status::invalid_argument("authorization required")),
        };
        let response = match domain::fetch_bundle(
            &self.state.deps,
            target,
            selector(inner.device_id)?,
            &access,
        )
        .await
        {
            Ok(bundle) => R::PreKeys(to_bundles(bundle)),
            Err(ChatError::NotFound) => R::TargetNotFound(errors::NotFound {}),
            Err(ChatError::Unauthorized) => {
                R::FailedUnidentifiedAuthorization(errors::FailedUnidentifiedAuthorization {
                    description: "unidentified access failed".into(),
                })
            }
            Err(e) => return Err(status(e)),
        };
        Ok(Response::new(pb::GetPreKeysAnonymousResponse {
            response: Some(response),
        }))
    }
}
