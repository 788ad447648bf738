//! `org.signal.chat.account.Accounts` (usernames and username links, as libsignal's typed
//! username APIs call them over HTTP/2) and `AccountsAnonymous` (existence checks and
//! username lookups). Other account calls answer UNIMPLEMENTED; their REST routes exist.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use heliograph_chat::{accounts, usernames, ChatError};
use heliograph_protocol::grpc::account as pb;
use heliograph_protocol::grpc::errors;
use heliograph_types::ServiceId;

use super::messages::identifier;
use super::{anonymous, authenticated, keys::service_id, status};
use crate::state::AppState;

/// The authenticated accounts service.
pub fn server(state: AppState) -> pb::accounts_server::AccountsServer<AccountsService> {
    pb::accounts_server::AccountsServer::new(AccountsService { state })
}

/// The anonymous accounts service.
pub fn anonymous_server(
    state: AppState,
) -> pb::accounts_anonymous_server::AccountsAnonymousServer<AccountsService> {
    pb::accounts_anonymous_server::AccountsAnonymousServer::new(AccountsService { state })
}

/// Implements both account services.
pub struct AccountsService {
    state: AppState,
}

fn handle_bytes(handle: Option<Uuid>) -> Vec<u8> {
    handle.map(|h| h.as_bytes().to_vec()).unwrap_or_default()
}

#[tonic::async_trait]
impl pb::accounts_server::Accounts for AccountsService {
    async fn reserve_username_hash(
        &self,
        request: Request<pb::ReserveUsernameHashRequest>,
    ) -> Result<Response<pb::ReserveUsernameHashResponse>, Status> {
        let auth = authenticated(&self.state, request.metadata()).await?;
        let response =
            match usernames::reserve(&self.state.deps, &auth, &request.get_ref().username_hashes)
                .await
            {
                Ok(hash) => pb::reserve_username_hash_response::Response::UsernameHash(hash),
                Err(ChatError::Conflict) => {
                    pb::reserve_username_hash_response::Response::UsernameNotAvailable(
                        pb::UsernameNotAvailable {},
                    )
                }
                Err(e) => return Err(status(e)),
            };
        Ok(Response::new(pb::ReserveUsernameHashResponse {
            response: Some(response),
        }))
    }

    async fn confirm_username_hash(
        &self,
        request: Request<pb::ConfirmUsernameHashRequest>,
    ) -> Result<Response<pb::ConfirmUsernameHashResponse>, Status> {
        use pb::confirm_username_hash_response::{ConfirmedUsernameHash, Response as Arm};
        let auth = authenticated(&self.state, request.metadata()).await?;
        let req = request.get_ref();
        let ciphertext =
            (!req.username_ciphertext.is_empty()).then_some(&req.username_ciphertext[..]);
        let response = match usernames::confirm(
            &self.state.deps,
            &auth,
            &req.username_hash,
            &req.zk_proof,
            ciphertext,
        )
        .await
        {
            Ok(confirmed) => Arm::ConfirmedUsernameHash(ConfirmedUsernameHash {
                username_link_handle: handle_bytes(confirmed.link_handle),
            }),
            Err(ChatError::Conflict) => Arm::ReservationNotFound(errors::FailedPrecondition {
                description: "no matching reservation".into(),
            }),
            Err(ChatError::Gone) => Arm::UsernameNotAvailable(pb::UsernameNotAvailable {}),
            Err(e) => return Err(status(e)),
        };
        Ok(Response::new(pb::ConfirmUsernameHashResponse {
            response: Some(response),
        }))
    }

    async fn delete_username_hash(
        &self,
        request: Request<pb::DeleteUsernameHashRequest>,
    ) -> Result<Response<pb::DeleteUsernameHashResponse>, Status> {
        let auth = authenticated(&self.state, request.metadata()).await?;
        usernames::delete(&self.state.deps, &auth)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeleteUsernameHashResponse {}))
    }

    async fn set_username_link(
        &self,
        request: Request<pb::SetUsernameLinkRequest>,
    ) -> Result<Response<pb::SetUsernameLinkResponse>, Status> {
        use pb::set_username_link_response::Response as Arm;
        let auth = authenticated(&self.state, request.metadata()).await?;
        let req = request.get_ref();
        let response = match usernames::set_link(
            &self.state.deps,
            &auth,
            &req.username_ciphertext,
            req.keep_link_handle,
        )
        .await
        {
            Ok(handle) => Arm::UsernameLinkHandle(handle.as_bytes().to_vec()),
            Err(ChatError::Conflict) => Arm::NoUsernameSet(errors::FailedPrecondition {
                description: "no username set".into(),
            }),
            Err(e) => return Err(status(e)),
        };
        Ok(Response::new(pb::SetUsernameLinkResponse {
            response: Some(response),
        }))
    }

    async fn delete_username_link(
        &self,
        request: Request<pb::DeleteUsernameLinkRequest>,
    ) -> Result<Response<pb::DeleteUsernameLinkResponse>, Status> {
        let auth = authenticated(&self.state, request.metadata()).await?;
        usernames::delete_link(&self.state.deps, &auth)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeleteUsernameLinkResponse {}))
    }
}

#[tonic::async_trait]
impl pb::accounts_anonymous_server::AccountsAnonymous for AccountsService {
    async fn check_account_existence(
        &self,
        request: Request<pb::CheckAccountExistenceRequest>,
    ) -> Result<Response<pb::CheckAccountExistenceResponse>, Status> {
        anonymous(request.metadata())?;
        let id = service_id(request.get_ref().service_identifier.as_ref())?;
        let account_exists = accounts::exists(&self.state.deps, id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::CheckAccountExistenceResponse {
            account_exists,
        }))
    }

    async fn lookup_username_hash(
        &self,
        request: Request<pb::LookupUsernameHashRequest>,
    ) -> Result<Response<pb::LookupUsernameHashResponse>, Status> {
        use pb::lookup_username_hash_response::Response as Arm;
        anonymous(request.metadata())?;
        let response =
            match usernames::lookup(&self.state.deps, &request.get_ref().username_hash).await {
                Ok(aci) => Arm::ServiceIdentifier(identifier(ServiceId::Aci(aci))),
                Err(ChatError::NotFound) => Arm::NotFound(errors::NotFound {}),
                Err(e) => return Err(status(e)),
            };
        Ok(Response::new(pb::LookupUsernameHashResponse {
            response: Some(response),
        }))
    }

    async fn lookup_username_link(
        &self,
        request: Request<pb::LookupUsernameLinkRequest>,
    ) -> Result<Response<pb::LookupUsernameLinkResponse>, Status> {
        use pb::lookup_username_link_response::Response as Arm;
        anonymous(request.metadata())?;
        let raw: [u8; 16] = request
            .get_ref()
            .username_link_handle
            .as_slice()
            .try_into()
            .map_err(|_| Status::invalid_argument("a link handle is 16 bytes"))?;
        let response = match usernames::lookup_link(&self.state.deps, Uuid::from_bytes(raw)).await {
            Ok(ciphertext) => Arm::UsernameCiphertext(ciphertext),
            Err(ChatError::NotFound) => Arm::NotFound(errors::NotFound {}),
            Err(e) => return Err(status(e)),
        };
        Ok(Response::new(pb::LookupUsernameLinkResponse {
            response: Some(response),
        }))
    }
}
