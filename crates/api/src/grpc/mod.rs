//! gRPC services (tonic) on the same HTTP/2 connections as REST, for `application/grpc`
//! requests. They call the same domain services as the REST routes.

pub mod accounts;
pub mod attachments;
pub mod keys;
pub mod messages;

use axum::Router;
use tonic::metadata::MetadataMap;
use tonic::Status;

use heliograph_chat::auth::{authenticate, parse_username, AuthenticatedDevice};
use heliograph_chat::ChatError;

use crate::auth::basic_credentials;
use crate::state::AppState;

/// The gRPC services as one router to merge beside the REST routes.
pub fn router(state: AppState) -> Router {
    tonic::service::Routes::new(keys::server(state.clone()))
        .add_service(keys::anonymous_server(state.clone()))
        .add_service(messages::server(state.clone()))
        .add_service(messages::anonymous_server(state.clone()))
        .add_service(accounts::server(state.clone()))
        .add_service(accounts::anonymous_server(state.clone()))
        .add_service(attachments::server(state))
        .into_axum_router()
}

/// Maps a domain error onto a gRPC status (the same decisions as the HTTP table).
pub fn status(e: ChatError) -> Status {
    match e {
        ChatError::Unauthorized => Status::unauthenticated("unauthorized"),
        ChatError::Forbidden => Status::permission_denied("forbidden"),
        ChatError::NotFound => Status::not_found("not found"),
        ChatError::BadRequest(m) | ChatError::Unprocessable(m) => Status::invalid_argument(m),
        ChatError::Conflict => Status::failed_precondition("conflict"),
        ChatError::Gone => Status::not_found("gone"),
        ChatError::TooLarge => Status::invalid_argument("too large"),
        ChatError::RateLimited { retry_after_secs } => {
            Status::resource_exhausted(format!("retry after {retry_after_secs} s"))
        }
        ChatError::Internal(cause) => {
            tracing::error!(%cause, "internal error (gRPC)");
            Status::internal("internal error")
        }
        other => Status::failed_precondition(other.to_string()),
    }
}

/// Authenticates a gRPC call from its `authorization: Basic …` metadata.
pub async fn authenticated(
    state: &AppState,
    metadata: &MetadataMap,
) -> Result<AuthenticatedDevice, Status> {
    let headers = metadata.clone().into_headers();
    let (user, pass) = basic_credentials(&headers)
        .map_err(|_| Status::unauthenticated("bad credentials"))?
        .ok_or_else(|| Status::unauthenticated("credentials required"))?;
    let (aci, device) =
        parse_username(&user).ok_or_else(|| Status::unauthenticated("bad credentials"))?;
    authenticate(&state.deps, aci, device, pass.expose())
        .await
        .map_err(status)
}

/// Refuses calls that carry credentials, for the anonymous services.
pub fn anonymous(metadata: &MetadataMap) -> Result<(), Status> {
    if metadata.contains_key("authorization") {
        return Err(Status::invalid_argument(
            "anonymous service called with credentials",
        ));
    }
    Ok(())
}
