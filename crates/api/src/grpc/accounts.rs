//! `org.signal.chat.account.AccountsAnonymous`: what libsignal's typed `accountExists` calls
//! over HTTP/2. Username lookups arrive with the usernames feature.

use tonic::{Request, Response, Status};

use heliograph_chat::accounts;
use heliograph_protocol::grpc::account as pb;

use super::{anonymous, keys::service_id, status};
use crate::state::AppState;

/// The anonymous accounts service.
pub fn anonymous_server(
    state: AppState,
) -> pb::accounts_anonymous_server::AccountsAnonymousServer<AccountsService> {
    pb::accounts_anonymous_server::AccountsAnonymousServer::new(AccountsService { state })
}

/// Implements the anonymous account calls.
pub struct AccountsService {
    state: AppState,
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
}
