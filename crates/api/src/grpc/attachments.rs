//! `org.signal.chat.attachments.Attachments`: the upload form libsignal's typed
//! `getUploadForm` fetches over HTTP/2 when remote config enables
//! `grpc.AttachmentsGetUploadForm`. Same forms as `GET /v4/attachments/form/upload`.

use tonic::{Request, Response, Status};

use heliograph_protocol::grpc::attachments as pb;
use heliograph_protocol::grpc::errors;

use super::{authenticated, status};
use crate::state::AppState;

/// The authenticated service.
pub fn server(state: AppState) -> pb::attachments_server::AttachmentsServer<AttachmentsService> {
    pb::attachments_server::AttachmentsServer::new(AttachmentsService { state })
}

/// Implements `Attachments` over the CDN's form issuer.
pub struct AttachmentsService {
    state: AppState,
}

#[tonic::async_trait]
impl pb::attachments_server::Attachments for AttachmentsService {
    /// `Attachments/GetUploadForm`: a tus form for `upload_length` bytes, or the
    /// `exceeds_max_upload_length` outcome; `upload_length` 0 is `INVALID_ARGUMENT`.
    async fn get_upload_form(
        &self,
        request: Request<pb::GetUploadFormRequest>,
    ) -> Result<Response<pb::GetUploadFormResponse>, Status> {
        let auth = authenticated(&self.state, request.metadata()).await?;
        let length = request.get_ref().upload_length;
        if length == 0 {
            return Err(Status::invalid_argument("upload_length must be at least 1"));
        }
        self.state
            .deps
            .limits
            .check(
                heliograph_chat::limits::Limiter::AttachmentCreate,
                &auth.aci().to_string(),
            )
            .await
            .map_err(status)?;
        tracing::debug!(upload_length = length, "gRPC GetUploadForm");
        let outcome = match self.state.cdn.attachment_upload_form(Some(length)) {
            Ok(form) => pb::get_upload_form_response::Outcome::UploadForm(pb::UploadForm {
                cdn: form.cdn,
                key: form.key,
                headers: form.headers.into_iter().collect(),
                signed_upload_location: form.signed_upload_location,
            }),
            Err(_) => pb::get_upload_form_response::Outcome::ExceedsMaxUploadLength(
                errors::FailedPrecondition {
                    description: "upload length exceeds the maximum attachment size".into(),
                },
            ),
        };
        Ok(Response::new(pb::GetUploadFormResponse {
            outcome: Some(outcome),
        }))
    }
}
