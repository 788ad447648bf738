//! Account maintenance: attributes, push tokens, registration lock, existence checks and
//! deletion.

use heliograph_storage::{Account, StoreError};
use heliograph_types::ServiceId;

use crate::auth::{hash_secret, AuthenticatedDevice};
use crate::registration::AttributesInput;
use crate::{ChatError, ChatResult, Deps};

/// Applies `change` to the freshest copy of the caller's account, retrying when another
/// request updated it concurrently.
pub async fn modify<F>(
    deps: &Deps,
    auth: &AuthenticatedDevice,
    mut change: F,
) -> ChatResult<Account>
where
    F: FnMut(&mut Account) -> ChatResult<()>,
{
    let mut account = auth.account.clone();
    for _ in 0..5 {
        change(&mut account)?;
        match deps.stores.accounts.update(&mut account).await {
            Ok(()) => return Ok(account),
            Err(StoreError::Stale) => {
                account = deps
                    .stores
                    .accounts
                    .get_by_aci(auth.aci())
                    .await?
                    .ok_or(ChatError::Unauthorized)?;
            }
            Err(StoreError::NotFound) => return Err(ChatError::Unauthorized),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ChatError::Internal(
        "account kept changing concurrently".into(),
    ))
}

/// `PUT /v1/accounts/attributes/`: device-level fields for the calling device, account-level
/// fields for the account. Registration ids are not changed here.
pub async fn set_attributes(
    deps: &Deps,
    auth: &AuthenticatedDevice,
    attrs: AttributesInput,
) -> ChatResult<()> {
    attrs.validate()?;
    let device_id = auth.device;
    modify(deps, auth, |account| {
        let device = account
            .device_mut(device_id)
            .ok_or(ChatError::Unauthorized)?;
        device.fetches_messages = attrs.fetches_messages;
        if attrs.name.is_some() {
            device.name = attrs.name.clone();
        }
        device.capabilities = attrs.capabilities.clone();
        account.unidentified_access_key = attrs.unidentified_access_key.clone();
        account.unrestricted_unidentified_access = attrs.unrestricted_unidentified_access;
        account.discoverable_by_phone_number = attrs.discoverable_by_phone_number;
        account.registration_lock = attrs.registration_lock.as_deref().map(hash_secret);
        if let Some(p) = &attrs.recovery_password {
            account.recovery_password = Some(hash_secret(&hex::encode(p)));
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Which push service a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushKind {
    /// Firebase Cloud Messaging.
    Fcm,
    /// Apple Push Notification service.
    Apns,
}

/// `PUT /v1/accounts/{gcm,apn}/`: setting one kind clears the other and turns off
/// `fetchesMessages`.
pub async fn set_push_token(
    deps: &Deps,
    auth: &AuthenticatedDevice,
    kind: PushKind,
    token: String,
) -> ChatResult<()> {
    if token.is_empty() || token.len() > 4096 {
        return Err(ChatError::Unprocessable("invalid push token".into()));
    }
    let device_id = auth.device;
    modify(deps, auth, |account| {
        let device = account
            .device_mut(device_id)
            .ok_or(ChatError::Unauthorized)?;
        match kind {
            PushKind::Fcm => {
                device.gcm_token = Some(token.clone());
                device.apn_token = None;
            }
            PushKind::Apns => {
                device.apn_token = Some(token.clone());
                device.gcm_token = None;
            }
        }
        device.fetches_messages = false;
        Ok(())
    })
    .await?;
    Ok(())
}

/// `DELETE /v1/accounts/{gcm,apn}/`.
pub async fn clear_push_token(
    deps: &Deps,
    auth: &AuthenticatedDevice,
    kind: PushKind,
) -> ChatResult<()> {
    let device_id = auth.device;
    modify(deps, auth, |account| {
        let device = account
            .device_mut(device_id)
            .ok_or(ChatError::Unauthorized)?;
        match kind {
            PushKind::Fcm => device.gcm_token = None,
            PushKind::Apns => device.apn_token = None,
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// `PUT /v1/accounts/registration_lock` (token = 64 hex chars) and the matching `DELETE`
/// (`None`).
pub async fn set_registration_lock(
    deps: &Deps,
    auth: &AuthenticatedDevice,
    token: Option<String>,
) -> ChatResult<()> {
    if let Some(t) = &token {
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ChatError::Unprocessable(
                "registrationLock must be 64 hex characters".into(),
            ));
        }
    }
    modify(deps, auth, |account| {
        account.registration_lock = token.as_deref().map(hash_secret);
        Ok(())
    })
    .await?;
    Ok(())
}

/// `HEAD /v1/accounts/account/{serviceId}`.
pub async fn exists(deps: &Deps, id: ServiceId) -> ChatResult<bool> {
    let found = match id {
        ServiceId::Aci(aci) => deps.stores.accounts.get_by_aci(aci).await?,
        ServiceId::Pni(pni) => deps.stores.accounts.get_by_pni(pni).await?,
    };
    Ok(found.is_some())
}

/// `DELETE /v1/accounts/me`: removes the account, its keys, queues, profiles (and avatar
/// objects) and username, and closes its sockets.
pub async fn delete(deps: &Deps, auth: &AuthenticatedDevice) -> ChatResult<()> {
    let aci = auth.aci();
    deps.stores.keys.delete_account(aci).await?;
    deps.stores.messages.delete_account(aci).await?;
    deps.stores.usernames.delete_account(aci).await?;
    let avatars = deps.stores.profiles.delete_account(aci).await?;
    deps.stores.accounts.delete(aci).await?;
    for avatar in avatars.iter().filter(|a| a.starts_with("profiles/")) {
        deps.avatars.delete(avatar).await;
    }
    deps.disconnector.disconnect_account(aci).await;
    tracing::info!(%aci, "account deleted");
    Ok(())
}
