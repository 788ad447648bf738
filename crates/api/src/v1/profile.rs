//! `/v1/profile...`: setting a versioned profile (and getting the avatar upload form),
//! reading profiles with account auth, an unidentified access key or a group send token,
//! expiring profile key credentials, and the batch identity check.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json as JsonResponse, Router};
use serde::Deserialize;

use heliograph_chat::keys::Access;
use heliograph_chat::profiles::{self as domain, IdentityCheck, SetProfileInput};
use heliograph_protocol::json::{
    BaseProfileResponse, BatchIdentityCheckRequest, BatchIdentityCheckResponse,
    CreateProfileRequest, ExpiringProfileKeyCredentialProfileResponse, IdentityCheckMismatch,
    ProfileAvatarUploadAttributes, VersionedProfileResponse,
};
use heliograph_types::{Aci, ServiceId};

use crate::auth::{access_key, group_send_token, Auth, MaybeAuth};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;

/// Profile routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/profile", put(put_profile))
        .route("/v1/profile/", put(put_profile))
        .route(
            "/v1/profile/identity_check/batch",
            post(post_identity_check),
        )
        .route("/v1/profile/{identifier}", get(get_profile))
        .route(
            "/v1/profile/{identifier}/{version}",
            get(get_versioned_profile),
        )
        .route(
            "/v1/profile/{identifier}/{version}/{credential_request}",
            get(get_profile_with_credential),
        )
}

/// `PUT /v1/profile`: stores a profile version and makes it current. The body is empty
/// unless a new avatar was asked for (`avatar: true, sameAvatar: false`); then it is the S3
/// POST-policy form to upload it with. 412 for accounts on gRPC profiles (`profiles_v2`).
pub async fn put_profile(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Json(req): Json<CreateProfileRequest>,
) -> ApiResult<Response> {
    let input = SetProfileInput {
        version: req.version,
        commitment: req.commitment,
        name: req.name,
        about: req.about,
        about_emoji: req.about_emoji,
        payment_address: req.payment_address,
        phone_number_sharing: req.phone_number_sharing,
        avatar: req.avatar,
        same_avatar: req.same_avatar,
    };
    Ok(
        match domain::set_profile(&state.deps, &auth, input).await? {
            Some(form) => JsonResponse(ProfileAvatarUploadAttributes {
                key: form.key,
                credential: form.credential,
                acl: form.acl,
                algorithm: form.algorithm,
                date: form.date,
                policy: form.policy,
                signature: form.signature,
            })
            .into_response(),
            None => http::StatusCode::OK.into_response(),
        },
    )
}

/// Reads the caller's standing for a profile read. Account auth wins over an access key (as
/// upstream, where the key is then ignored); a group send token, where allowed, must come
/// alone.
async fn access(
    state: &AppState,
    auth: Option<heliograph_chat::auth::AuthenticatedDevice>,
    headers: &HeaderMap,
    token_target: Option<ServiceId>,
) -> ApiResult<Access> {
    let key = access_key(headers)?;
    if let Some(target) = token_target {
        if let Some(token) = group_send_token(headers)? {
            if key.is_some() {
                return Err(ApiError::bad_request(
                    "may not provide both group send token and unidentified access key",
                ));
            }
            state
                .zk
                .verify_group_send_token(&token, &[target], state.deps.clock.now_ms())?;
            return Ok(Access::GroupSendToken);
        }
    }
    Ok(match (auth, key) {
        (Some(a), _) => Access::Account(Box::new(a)),
        (None, Some(k)) => Access::AccessKey(k),
        (None, None) => Access::None,
    })
}

fn parse_aci(text: &str) -> ApiResult<Aci> {
    match text.parse::<ServiceId>() {
        Ok(ServiceId::Aci(aci)) => Ok(aci),
        _ => Err(ApiError::bad_request("invalid ACI")),
    }
}

fn base_response(base: domain::BaseProfile) -> BaseProfileResponse {
    BaseProfileResponse {
        identity_key: base.identity_key,
        unidentified_access: base.unidentified_access,
        unrestricted_unidentified_access: base.unrestricted_unidentified_access,
        capabilities: base.capabilities,
        badges: Vec::new(),
        uuid: base.service_id,
    }
}

fn versioned_response(view: domain::VersionedProfileView) -> VersionedProfileResponse {
    let profile = view
        .profile
        .unwrap_or_else(|| heliograph_storage::VersionedProfile {
            version: String::new(),
            name: None,
            about: None,
            about_emoji: None,
            avatar: None,
            payment_address: None,
            phone_number_sharing: None,
            commitment: Vec::new(),
        });
    VersionedProfileResponse {
        base: base_response(view.base),
        name: profile.name,
        about: profile.about,
        about_emoji: profile.about_emoji,
        avatar: profile.avatar,
        payment_address: view.payment_address,
        phone_number_sharing: profile.phone_number_sharing,
    }
}

/// `GET /v1/profile/{serviceId}`: the identity key, access checksum and capabilities of an
/// ACI or PNI. Account auth, an `Unidentified-Access-Key` (ACI only) or a `Group-Send-Token`.
pub async fn get_profile(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    headers: HeaderMap,
    Path(identifier): Path<String>,
) -> ApiResult<JsonResponse<BaseProfileResponse>> {
    let target: ServiceId = identifier
        .parse()
        .map_err(|_| ApiError::bad_request("invalid service id"))?;
    let access = access(&state, auth, &headers, Some(target)).await?;
    let base = domain::get_base(&state.deps, target, &access).await?;
    Ok(JsonResponse(base_response(base)))
}

/// `GET /v1/profile/{aci}/{version}`: the base profile plus that version's encrypted
/// fields; all of them null (still 200) for a version the account never set.
pub async fn get_versioned_profile(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    headers: HeaderMap,
    Path((identifier, version)): Path<(String, String)>,
) -> ApiResult<JsonResponse<VersionedProfileResponse>> {
    let target = parse_aci(&identifier)?;
    let access = access(&state, auth, &headers, None).await?;
    let view = domain::get_versioned(&state.deps, target, &version, &access).await?;
    Ok(JsonResponse(versioned_response(view)))
}

/// The query of the credential fetch.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialQuery {
    /// Must be `expiringProfileKey`.
    pub credential_type: Option<String>,
}

/// `GET /v1/profile/{aci}/{version}/{credentialRequest}?credentialType=expiringProfileKey`:
/// the versioned profile plus an expiring profile key credential for the hex
/// `ProfileKeyCredentialRequest` (null when `version` is not current). 400 for another
/// credential type or a request that does not match the version's commitment.
pub async fn get_profile_with_credential(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    headers: HeaderMap,
    Path((identifier, version, request)): Path<(String, String, String)>,
    Query(query): Query<CredentialQuery>,
) -> ApiResult<JsonResponse<ExpiringProfileKeyCredentialProfileResponse>> {
    let target = parse_aci(&identifier)?;
    let access = access(&state, auth, &headers, None).await?;
    let (view, credential) = domain::get_with_credential(
        &state.deps,
        &state.zk,
        target,
        &version,
        &request,
        query.credential_type.as_deref(),
        &access,
    )
    .await?;
    Ok(JsonResponse(ExpiringProfileKeyCredentialProfileResponse {
        profile: versioned_response(view),
        credential,
    }))
}

/// `POST /v1/profile/identity_check/batch`: lists the identities (of up to 1000) whose
/// current identity key does not match the caller's 4-byte fingerprint. Credentials are
/// not needed (and not used).
pub async fn post_identity_check(
    State(state): State<AppState>,
    Json(req): Json<BatchIdentityCheckRequest>,
) -> ApiResult<JsonResponse<BatchIdentityCheckResponse>> {
    let checks: Vec<IdentityCheck> = req
        .elements
        .into_iter()
        .map(|e| IdentityCheck {
            service_id: e.uuid,
            fingerprint: e.fingerprint,
        })
        .collect();
    let mismatched = domain::identity_check(&state.deps, &checks).await?;
    Ok(JsonResponse(BatchIdentityCheckResponse {
        elements: mismatched
            .into_iter()
            .map(|(uuid, identity_key)| IdentityCheckMismatch { uuid, identity_key })
            .collect(),
    }))
}
