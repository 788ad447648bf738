//! Authentication extractors. Plain HTTP requests authenticate with Basic
//! `{aci}.{deviceId}:{password}`; requests tunnelled through a WebSocket act as the socket's
//! principal and their own `Authorization` header is not used for this.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use base64::Engine;

use heliograph_chat::auth::{authenticate, parse_username, AuthenticatedDevice};
use heliograph_chat::ChatError;
use heliograph_types::{Aci, DeviceId, Redacted};

use crate::error::ApiError;
use crate::state::AppState;

/// Marks a request that arrived inside a WebSocket; `principal` is the socket's device, or
/// `None` for an unauthenticated socket.
#[derive(Debug, Clone, Copy)]
pub struct Tunnel {
    /// The authenticated device of the socket.
    pub principal: Option<(Aci, DeviceId)>,
}

/// Splits `Authorization: Basic …` into username and password. `None` if the header is absent;
/// an error if it is present but malformed.
pub fn basic_credentials(
    headers: &HeaderMap,
) -> Result<Option<(String, Redacted<String>)>, ApiError> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError(ChatError::Unauthorized))?;
    let (scheme, encoded) = text
        .trim()
        .split_once(' ')
        .ok_or(ApiError(ChatError::Unauthorized))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError(ChatError::Unauthorized));
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| ApiError(ChatError::Unauthorized))?;
    let text = String::from_utf8(raw).map_err(|_| ApiError(ChatError::Unauthorized))?;
    let (user, pass) = text
        .split_once(':')
        .ok_or(ApiError(ChatError::Unauthorized))?;
    Ok(Some((user.to_owned(), Redacted::new(pass.to_owned()))))
}

/// Authenticates a request from its Basic header.
pub async fn authenticate_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<AuthenticatedDevice>, ApiError> {
    let Some((user, pass)) = basic_credentials(headers)? else {
        return Ok(None);
    };
    let (aci, device) = parse_username(&user).ok_or(ApiError(ChatError::Unauthorized))?;
    Ok(Some(
        authenticate(&state.deps, aci, device, pass.expose()).await?,
    ))
}

/// Loads the principal of a tunnelled request (the socket authenticated it at upgrade).
pub async fn principal_device(
    state: &AppState,
    aci: Aci,
    device: DeviceId,
) -> Result<AuthenticatedDevice, ApiError> {
    let account = state
        .deps
        .stores
        .accounts
        .get_by_aci(aci)
        .await
        .map_err(|e| ApiError(e.into()))?
        .filter(|a| a.device(device).is_some())
        .ok_or(ApiError(ChatError::Unauthorized))?;
    Ok(AuthenticatedDevice { account, device })
}

/// An authenticated device; 401 otherwise.
pub struct Auth(pub AuthenticatedDevice);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match MaybeAuth::from_request_parts(parts, state).await?.0 {
            Some(device) => Ok(Auth(device)),
            None => Err(ApiError(ChatError::Unauthorized)),
        }
    }
}

/// An authenticated device if the request carries credentials; `None` if it carries none.
/// Wrong credentials are still a 401.
pub struct MaybeAuth(pub Option<AuthenticatedDevice>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(tunnel) = parts.extensions.get::<Tunnel>().copied() {
            return match tunnel.principal {
                Some((aci, device)) => {
                    Ok(MaybeAuth(Some(principal_device(state, aci, device).await?)))
                }
                None => Ok(MaybeAuth(None)),
            };
        }
        Ok(MaybeAuth(
            authenticate_headers(state, &parts.headers).await?,
        ))
    }
}

/// Refuses authenticated requests (400), for endpoints that must be called anonymously.
pub struct Anonymous;

impl FromRequestParts<AppState> for Anonymous {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, ApiError> {
        let tunnelled_auth = parts
            .extensions
            .get::<Tunnel>()
            .is_some_and(|t| t.principal.is_some());
        let header_auth = parts.extensions.get::<Tunnel>().is_none()
            && parts.headers.contains_key(http::header::AUTHORIZATION);
        if tunnelled_auth || header_auth {
            return Err(ApiError::bad_request(
                "this endpoint must be called without credentials",
            ));
        }
        Ok(Anonymous)
    }
}

/// The `Unidentified-Access-Key` header: `None` if absent, 401 if not 16 bytes of base64.
pub fn access_key(headers: &HeaderMap) -> Result<Option<[u8; 16]>, ApiError> {
    let Some(value) = headers.get("unidentified-access-key") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError(ChatError::Unauthorized))?
        .trim();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim_end_matches('='))
        })
        .map_err(|_| ApiError(ChatError::Unauthorized))?;
    let key: [u8; 16] = raw
        .try_into()
        .map_err(|_| ApiError(ChatError::Unauthorized))?;
    Ok(Some(key))
}

/// The `Group-Send-Token` header (standard base64 of a `GroupSendFullToken`): `None` if
/// absent, 401 if it is not base64.
pub fn group_send_token(headers: &HeaderMap) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(value) = headers.get("group-send-token") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError(ChatError::Unauthorized))?
        .trim();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim_end_matches('='))
        })
        .map_err(|_| ApiError(ChatError::Unauthorized))?;
    Ok(Some(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn basic_header_forms() {
        assert!(basic_credentials(&headers(&[])).unwrap().is_none());
        let (u, p) = basic_credentials(&headers(&[("authorization", "Basic dXNlcjpwYTpzcw==")]))
            .unwrap()
            .unwrap();
        assert_eq!(u, "user");
        assert_eq!(p.expose(), "pa:ss", "only the first colon splits");
        assert!(basic_credentials(&headers(&[("authorization", "Bearer x")])).is_err());
        assert!(basic_credentials(&headers(&[("authorization", "Basic !!!")])).is_err());
        assert!(basic_credentials(&headers(&[("authorization", "Basic dXNlcg==")])).is_err());
    }

    #[test]
    fn access_key_forms() {
        assert!(access_key(&headers(&[])).unwrap().is_none());
        let key = access_key(&headers(&[(
            "unidentified-access-key",
            "AAAAAAAAAAAAAAAAAAAAAA==",
        )]))
        .unwrap()
        .unwrap();
        assert_eq!(key, [0u8; 16]);
        assert!(access_key(&headers(&[(
            "unidentified-access-key",
            "AAAAAAAAAAAAAAAAAAAAAA"
        )]))
        .is_ok());
        assert!(access_key(&headers(&[("unidentified-access-key", "AAAA")])).is_err());
        assert!(access_key(&headers(&[("unidentified-access-key", "%%%")])).is_err());
    }
}
