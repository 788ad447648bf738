//! `org.signal.chat.messages.Messages` and `MessagesAnonymous`: the sends libsignal's typed
//! API uses over HTTP/2 when remote config selects gRPC. One implementation with the REST
//! routes: both call the chat messaging service.

use tonic::{Request, Response, Status};

use heliograph_chat::messages::{OutgoingMessage, SendRequest, Sender};

use heliograph_chat::ChatError;
use heliograph_protocol::grpc::{common, errors, messages as pb};
use heliograph_types::{DeviceId, ServiceId};

use super::{anonymous, authenticated, keys::service_id, status};
use crate::state::AppState;
use crate::v1::multi_recipient::parse_recipients;

/// The authenticated service.
pub fn server(state: AppState) -> pb::messages_server::MessagesServer<MessagesService> {
    pb::messages_server::MessagesServer::new(MessagesService { state })
}

/// The anonymous service.
pub fn anonymous_server(
    state: AppState,
) -> pb::messages_anonymous_server::MessagesAnonymousServer<MessagesService> {
    pb::messages_anonymous_server::MessagesAnonymousServer::new(MessagesService { state })
}

/// How a gRPC multi-recipient send is authorized (before the token is checked).
enum MultiAuth {
    /// A group send token (serialized), to verify against the recipients.
    GroupSendToken(Vec<u8>),
    /// A story.
    Story,
}

/// Implements both message services.
pub struct MessagesService {
    state: AppState,
}

fn envelope_type(t: i32) -> Result<i32, Status> {
    match pb::SendMessageType::try_from(t) {
        Ok(pb::SendMessageType::DoubleRatchet) => Ok(1),
        Ok(pb::SendMessageType::PrekeyMessage) => Ok(3),
        Ok(pb::SendMessageType::UnidentifiedSender) => Ok(6),
        Ok(pb::SendMessageType::PlaintextContent) => Ok(8),
        _ => Err(Status::invalid_argument("message type required")),
    }
}

fn bundle(
    destination: ServiceId,
    bundle: Option<pb::IndividualRecipientMessageBundle>,
    online: bool,
    urgent: bool,
    story: bool,
) -> Result<SendRequest, Status> {
    let bundle = bundle.ok_or_else(|| Status::invalid_argument("messages required"))?;
    if bundle.timestamp == 0 {
        return Err(Status::invalid_argument("timestamp required"));
    }
    let mut messages = Vec::with_capacity(bundle.messages.len());
    for (device, m) in bundle.messages {
        messages.push(OutgoingMessage {
            envelope_type: envelope_type(m.r#type)?,
            device: DeviceId::new(device)
                .map_err(|_| Status::invalid_argument("invalid device id"))?,
            registration_id: m.registration_id,
            content: m.payload,
        });
    }
    messages.sort_by_key(|m| m.device);
    Ok(SendRequest {
        destination,
        messages,
        online,
        urgent,
        story,
        timestamp: bundle.timestamp,
    })
}

pub(crate) fn identifier(id: ServiceId) -> common::ServiceIdentifier {
    let (t, uuid) = match id {
        ServiceId::Aci(a) => (common::IdentityType::Aci, a.uuid()),
        ServiceId::Pni(p) => (common::IdentityType::Pni, p.uuid()),
    };
    common::ServiceIdentifier {
        identity_type: t as i32,
        uuid: uuid.as_bytes().to_vec(),
    }
}

fn mismatched(
    id: ServiceId,
    missing: Vec<u8>,
    extra: Vec<u8>,
    stale: Vec<u8>,
) -> pb::MismatchedDevices {
    let wide = |v: Vec<u8>| v.into_iter().map(u32::from).collect();
    pb::MismatchedDevices {
        service_identifier: Some(identifier(id)),
        missing_devices: wide(missing),
        extra_devices: wide(extra),
        stale_devices: wide(stale),
    }
}

impl MessagesService {
    async fn authenticated_send(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        destination: Option<ServiceId>,
        bundle_msg: Option<pb::IndividualRecipientMessageBundle>,
        online: bool,
        urgent: bool,
    ) -> Result<Response<pb::SendMessageAuthenticatedSenderResponse>, Status> {
        use pb::send_message_authenticated_sender_response::Response as R;
        let auth = authenticated(&self.state, metadata).await?;
        let destination = destination.unwrap_or(ServiceId::Aci(auth.aci()));
        let req = bundle(destination, bundle_msg, online, urgent, false)?;
        let response = match self
            .state
            .messages
            .send(Sender::Device(Box::new(auth)), req)
            .await
        {
            Ok(_) => R::Success(()),
            Err(ChatError::MismatchedDevices { missing, extra }) => {
                R::MismatchedDevices(mismatched(destination, missing, extra, vec![]))
            }
            Err(ChatError::StaleDevices { stale }) => {
                R::MismatchedDevices(mismatched(destination, vec![], vec![], stale))
            }
            Err(ChatError::NotFound) => R::DestinationNotFound(errors::NotFound {}),
            Err(e) => return Err(status(e)),
        };
        Ok(Response::new(pb::SendMessageAuthenticatedSenderResponse {
            response: Some(response),
        }))
    }

    async fn anonymous_send(
        &self,
        sender: Sender,
        destination: ServiceId,
        req: SendRequest,
    ) -> Result<Response<pb::SendMessageResponse>, Status> {
        use pb::send_message_response::Response as R;
        let response = match self.state.messages.send(sender, req).await {
            Ok(_) => R::Success(()),
            Err(ChatError::MismatchedDevices { missing, extra }) => {
                R::MismatchedDevices(mismatched(destination, missing, extra, vec![]))
            }
            Err(ChatError::StaleDevices { stale }) => {
                R::MismatchedDevices(mismatched(destination, vec![], vec![], stale))
            }
            Err(ChatError::NotFound) => R::DestinationNotFound(errors::NotFound {}),
            Err(ChatError::Unauthorized) => {
                R::FailedUnidentifiedAuthorization(errors::FailedUnidentifiedAuthorization {
                    description: "unidentified access failed".into(),
                })
            }
            Err(e) => return Err(status(e)),
        };
        Ok(Response::new(pb::SendMessageResponse {
            response: Some(response),
        }))
    }

    async fn multi(
        &self,
        auth: MultiAuth,
        message: Option<pb::MultiRecipientMessage>,
        online: bool,
        urgent: bool,
        story: bool,
    ) -> Result<Response<pb::SendMultiRecipientMessageResponse>, Status> {
        use pb::send_multi_recipient_message_response::Response as R;
        let message = message.ok_or_else(|| Status::invalid_argument("message required"))?;
        let recipients = parse_recipients(&message.payload).map_err(|e| status(e.0))?;
        if let MultiAuth::GroupSendToken(token) = &auth {
            let members: Vec<_> = recipients.iter().map(|r| r.service_id).collect();
            if self
                .state
                .zk
                .verify_group_send_token(token, &members, self.state.deps.clock.now_ms())
                .is_err()
            {
                return Ok(Response::new(pb::SendMultiRecipientMessageResponse {
                    response: Some(R::FailedUnidentifiedAuthorization(
                        errors::FailedUnidentifiedAuthorization {
                            description: "group send token refused".into(),
                        },
                    )),
                }));
            }
        }
        let auth = match auth {
            MultiAuth::GroupSendToken(_) => {
                heliograph_chat::multi_recipient::MultiAuth::GroupSendToken
            }
            MultiAuth::Story => heliograph_chat::multi_recipient::MultiAuth::Story,
        };
        let req = heliograph_chat::multi_recipient::MultiRecipientSend {
            recipients,
            timestamp: message.timestamp,
            online,
            urgent,
            story,
        };
        let response = match self.state.messages.send_multi_recipient(auth, req).await {
            Ok(missing) => R::Success(pb::MultiRecipientSuccess {
                unresolved_recipients: missing.into_iter().map(identifier).collect(),
            }),
            Err(ChatError::MultiMismatched(list)) => {
                R::MismatchedDevices(pb::MultiRecipientMismatchedDevices {
                    mismatched_devices: list
                        .into_iter()
                        .map(|(id, m, e)| mismatched(id, m, e, vec![]))
                        .collect(),
                })
            }
            Err(ChatError::MultiStale(list)) => {
                R::MismatchedDevices(pb::MultiRecipientMismatchedDevices {
                    mismatched_devices: list
                        .into_iter()
                        .map(|(id, s)| mismatched(id, vec![], vec![], s))
                        .collect(),
                })
            }
            Err(ChatError::Unauthorized) => {
                R::FailedUnidentifiedAuthorization(errors::FailedUnidentifiedAuthorization {
                    description: "group send token refused".into(),
                })
            }
            Err(e) => return Err(status(e)),
        };
        Ok(Response::new(pb::SendMultiRecipientMessageResponse {
            response: Some(response),
        }))
    }
}

#[tonic::async_trait]
impl pb::messages_server::Messages for MessagesService {
    async fn send_message(
        &self,
        request: Request<pb::SendAuthenticatedSenderMessageRequest>,
    ) -> Result<Response<pb::SendMessageAuthenticatedSenderResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let destination = service_id(req.destination.as_ref())?;
        self.authenticated_send(
            &metadata,
            Some(destination),
            req.messages,
            req.ephemeral,
            req.urgent,
        )
        .await
    }

    async fn send_sync_message(
        &self,
        request: Request<pb::SendSyncMessageRequest>,
    ) -> Result<Response<pb::SendMessageAuthenticatedSenderResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        self.authenticated_send(&metadata, None, req.messages, false, req.urgent)
            .await
    }
}

#[tonic::async_trait]
impl pb::messages_anonymous_server::MessagesAnonymous for MessagesService {
    async fn send_single_recipient_message(
        &self,
        request: Request<pb::SendSealedSenderMessageRequest>,
    ) -> Result<Response<pb::SendMessageResponse>, Status> {
        anonymous(request.metadata())?;
        let req = request.into_inner();
        let destination = service_id(req.destination.as_ref())?;
        use pb::send_sealed_sender_message_request::Authorization;
        let sender = match req.authorization {
            Some(Authorization::UnidentifiedAccessKey(k)) => Sender::AccessKey(
                <[u8; 16]>::try_from(k.as_slice())
                    .map_err(|_| Status::invalid_argument("access key must be 16 bytes"))?,
            ),
            Some(Authorization::UnrestrictedAccess(())) => Sender::AccessKey([0u8; 16]),
            Some(Authorization::GroupSendToken(_)) => {
                return Err(Status::unimplemented(
                    "group send tokens are not supported yet",
                ))
            }
            None => return Err(Status::invalid_argument("authorization required")),
        };
        let send = bundle(destination, req.messages, req.ephemeral, req.urgent, false)?;
        self.anonymous_send(sender, destination, send).await
    }

    async fn send_story(
        &self,
        request: Request<pb::SendStoryMessageRequest>,
    ) -> Result<Response<pb::SendMessageResponse>, Status> {
        anonymous(request.metadata())?;
        let req = request.into_inner();
        let destination = service_id(req.destination.as_ref())?;
        let send = bundle(destination, req.messages, false, req.urgent, true)?;
        self.anonymous_send(Sender::Story, destination, send).await
    }

    async fn send_multi_recipient_message(
        &self,
        request: Request<pb::SendMultiRecipientMessageRequest>,
    ) -> Result<Response<pb::SendMultiRecipientMessageResponse>, Status> {
        anonymous(request.metadata())?;
        let req = request.into_inner();
        self.multi(
            MultiAuth::GroupSendToken(req.group_send_token),
            req.message,
            req.ephemeral,
            req.urgent,
            false,
        )
        .await
    }

    async fn send_multi_recipient_story(
        &self,
        request: Request<pb::SendMultiRecipientStoryRequest>,
    ) -> Result<Response<pb::SendMultiRecipientMessageResponse>, Status> {
        anonymous(request.metadata())?;
        let req = request.into_inner();
        self.multi(MultiAuth::Story, req.message, false, req.urgent, true)
            .await
    }
}
