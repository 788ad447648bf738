//! Usernames: reserving and confirming username hashes (with libsignal's zero-knowledge
//! proof), releasing them, the encrypted username link, and anonymous lookups. The server
//! never learns a username, only its 32-byte hash.

use heliograph_storage::ConfirmOutcome;
use heliograph_types::Aci;
use uuid::Uuid;

use crate::accounts::modify;
use crate::auth::AuthenticatedDevice;
use crate::limits::Limiter;
use crate::{ChatError, ChatResult, Deps};

/// Length of a username hash.
pub const HASH_LEN: usize = 32;
/// Most candidate hashes one reservation may list.
pub const MAX_CANDIDATES: usize = 20;
/// Longest encrypted username (link value), in bytes.
pub const MAX_ENCRYPTED_USERNAME: usize = 128;
/// How long a reservation lasts (official: five minutes).
pub const RESERVATION_TTL_MS: i64 = 5 * 60 * 1000;
/// How long a released username stays held for its former owner (official: seven days).
pub const HOLD_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Most holds one account keeps (official: three).
pub const MAX_HOLDS: usize = 3;

/// A username's confirmed state as clients see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfirmedUsername {
    /// The hash.
    pub hash: Vec<u8>,
    /// The link handle, when a link is set.
    pub link_handle: Option<Uuid>,
}

fn check_hash(hash: &[u8]) -> ChatResult<()> {
    if hash.len() != HASH_LEN {
        return Err(ChatError::Unprocessable(format!(
            "a username hash is {HASH_LEN} bytes"
        )));
    }
    Ok(())
}

fn check_encrypted(value: &[u8]) -> ChatResult<()> {
    if value.is_empty() || value.len() > MAX_ENCRYPTED_USERNAME {
        return Err(ChatError::Unprocessable(format!(
            "an encrypted username is 1 to {MAX_ENCRYPTED_USERNAME} bytes"
        )));
    }
    Ok(())
}

/// `PUT /v1/accounts/username_hash/reserve`: reserves the first free hash of `candidates`
/// (in the caller's order) for five minutes and returns it. The account's own confirmed
/// username counts as free. 409 when all are taken, 422 for a malformed list.
pub async fn reserve(
    deps: &Deps,
    auth: &AuthenticatedDevice,
    candidates: &[Vec<u8>],
) -> ChatResult<Vec<u8>> {
    if candidates.is_empty() || candidates.len() > MAX_CANDIDATES {
        return Err(ChatError::Unprocessable(format!(
            "between 1 and {MAX_CANDIDATES} username hashes"
        )));
    }
    for hash in candidates {
        check_hash(hash)?;
    }
    let aci = auth.aci();
    deps.limits
        .check(Limiter::UsernameReserve, &aci.to_string())
        .await?;
    let current = deps.stores.usernames.state(aci).await?.hash;
    if let Some(current) = current.filter(|c| candidates.contains(c)) {
        return Ok(current);
    }
    let now = deps.clock.now_ms();
    for hash in candidates {
        if deps
            .stores
            .usernames
            .reserve(aci, hash, now + RESERVATION_TTL_MS, now)
            .await?
        {
            let reserved = hash.clone();
            modify(deps, auth, |account| {
                account.reserved_username_hash = Some(reserved.clone());
                Ok(())
            })
            .await?;
            return Ok(hash.clone());
        }
    }
    Err(ChatError::Conflict)
}

/// `PUT /v1/accounts/username_hash/confirm`: makes a reserved hash the account's username
/// after checking the proof that it hashes a real username (422 otherwise). With an
/// encrypted username, the link is set under a new handle. 409 when the hash was not the
/// account's latest reservation, 410 when the reservation lapsed and someone else took it.
/// Confirming the current username again returns it unchanged.
pub async fn confirm(
    deps: &Deps,
    auth: &AuthenticatedDevice,
    hash: &[u8],
    proof: &[u8],
    encrypted_username: Option<&[u8]>,
) -> ChatResult<ConfirmedUsername> {
    check_hash(hash)?;
    if let Some(value) = encrypted_username {
        check_encrypted(value)?;
    }
    heliograph_zk::username::verify_username_proof(proof, hash)
        .map_err(|_| ChatError::Unprocessable("invalid username proof".into()))?;
    let aci = auth.aci();
    deps.limits
        .check(Limiter::UsernameSet, &aci.to_string())
        .await?;
    let state = deps.stores.usernames.state(aci).await?;
    if state.hash.as_deref() == Some(hash) {
        return Ok(ConfirmedUsername {
            hash: hash.to_vec(),
            link_handle: state.link_handle,
        });
    }
    if auth.account.reserved_username_hash.as_deref() != Some(hash) {
        return Err(ChatError::Conflict);
    }
    let now = deps.clock.now_ms();
    let handle = Uuid::new_v4();
    match deps
        .stores
        .usernames
        .confirm(
            aci,
            hash,
            encrypted_username,
            handle,
            now,
            now + HOLD_TTL_MS,
            MAX_HOLDS,
        )
        .await?
    {
        ConfirmOutcome::Confirmed => {}
        ConfirmOutcome::Taken => return Err(ChatError::Gone),
    }
    let confirmed = deps.stores.usernames.state(aci).await?;
    Ok(ConfirmedUsername {
        hash: hash.to_vec(),
        link_handle: confirmed.link_handle,
    })
}

/// `DELETE /v1/accounts/username_hash`: releases the username (held for the account for a
/// week) and its link. Succeeds when there is none.
pub async fn delete(deps: &Deps, auth: &AuthenticatedDevice) -> ChatResult<()> {
    let now = deps.clock.now_ms();
    deps.stores
        .usernames
        .clear(auth.aci(), now + HOLD_TTL_MS, MAX_HOLDS)
        .await?;
    Ok(())
}

/// `PUT /v1/accounts/username_link`: stores the encrypted username behind a link handle
/// (kept with `keep_handle` when one exists, new otherwise). 409 without a username.
pub async fn set_link(
    deps: &Deps,
    auth: &AuthenticatedDevice,
    encrypted_username: &[u8],
    keep_handle: bool,
) -> ChatResult<Uuid> {
    check_encrypted(encrypted_username)?;
    deps.limits
        .check(Limiter::UsernameLinkOperation, &auth.aci().to_string())
        .await?;
    deps.stores
        .usernames
        .set_link(auth.aci(), encrypted_username, keep_handle, Uuid::new_v4())
        .await?
        .ok_or(ChatError::Conflict)
}

/// `DELETE /v1/accounts/username_link`.
pub async fn delete_link(deps: &Deps, auth: &AuthenticatedDevice) -> ChatResult<()> {
    deps.limits
        .check(Limiter::UsernameLinkOperation, &auth.aci().to_string())
        .await?;
    deps.stores.usernames.delete_link(auth.aci()).await?;
    Ok(())
}

/// `GET /v1/accounts/username_hash/{hash}`: the account whose username hashes to `hash`.
/// 422 for a hash of the wrong length, 404 when nobody has it.
pub async fn lookup(deps: &Deps, hash: &[u8]) -> ChatResult<Aci> {
    check_hash(hash)?;
    deps.stores
        .usernames
        .lookup(hash)
        .await?
        .ok_or(ChatError::NotFound)
}

/// `GET /v1/accounts/username_link/{handle}`: the encrypted username behind a link.
pub async fn lookup_link(deps: &Deps, handle: Uuid) -> ChatResult<Vec<u8>> {
    deps.stores
        .usernames
        .lookup_link(handle)
        .await?
        .ok_or(ChatError::NotFound)
}
