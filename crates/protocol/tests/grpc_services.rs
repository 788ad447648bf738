//! The generated gRPC services keep the official names, so request paths match, and a server
//! built from them answers over a real HTTP/2 connection.

use heliograph_protocol::grpc::{account, device, keys, messages};
use keys::keys_client::KeysClient;
use keys::keys_server::{Keys, KeysServer};
use tonic::{Request, Response, Status};

#[test]
fn service_names_match_official_paths() {
    assert_eq!(keys::keys_server::SERVICE_NAME, "org.signal.chat.keys.Keys");
    assert_eq!(
        keys::keys_anonymous_server::SERVICE_NAME,
        "org.signal.chat.keys.KeysAnonymous"
    );
    assert_eq!(
        messages::messages_server::SERVICE_NAME,
        "org.signal.chat.messages.Messages"
    );
    assert_eq!(
        messages::messages_anonymous_server::SERVICE_NAME,
        "org.signal.chat.messages.MessagesAnonymous"
    );
    assert_eq!(
        account::accounts_server::SERVICE_NAME,
        "org.signal.chat.account.Accounts"
    );
    assert_eq!(
        account::accounts_anonymous_server::SERVICE_NAME,
        "org.signal.chat.account.AccountsAnonymous"
    );
    assert_eq!(
        device::devices_server::SERVICE_NAME,
        "org.signal.chat.device.Devices"
    );
}

struct CountOnly;

#[tonic::async_trait]
impl Keys for CountOnly {
    async fn get_pre_key_count(
        &self,
        _request: Request<keys::GetPreKeyCountRequest>,
    ) -> Result<Response<keys::GetPreKeyCountResponse>, Status> {
        Ok(Response::new(keys::GetPreKeyCountResponse {
            aci_ec_pre_key_count: 3,
            aci_kem_pre_key_count: 4,
            pni_ec_pre_key_count: 5,
            pni_kem_pre_key_count: 6,
        }))
    }
}

#[tokio::test]
async fn server_answers_and_defaults_to_unimplemented() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .add_service(KeysServer::new(CountOnly))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    let handle = tokio::spawn(server);

    let mut client = KeysClient::connect(format!("http://{addr}")).await.unwrap();
    let counts = client
        .get_pre_key_count(keys::GetPreKeyCountRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(counts.aci_ec_pre_key_count, 3);
    assert_eq!(counts.pni_kem_pre_key_count, 6);

    let status = client
        .get_pre_keys(keys::GetPreKeysRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    handle.abort();
}

#[test]
fn attachments_service_keeps_the_official_name_and_field_numbers() {
    use heliograph_protocol::grpc::attachments;
    use prost::Message;
    assert_eq!(
        attachments::attachments_server::SERVICE_NAME,
        "org.signal.chat.attachments.Attachments"
    );
    // uploadLength = 1 (varint): 0x08 0x96 0x01 is 150.
    let req = attachments::GetUploadFormRequest { upload_length: 150 };
    assert_eq!(req.encode_to_vec(), [0x08, 0x96, 0x01]);
    // upload_form = 1 { cdn = 1, key = 2, headers = 3, signed_upload_location = 4 };
    // exceeds_max_upload_length = 2.
    let form = attachments::UploadForm {
        cdn: 3,
        key: "k".into(),
        headers: [("a".to_string(), "b".to_string())].into(),
        signed_upload_location: "u".into(),
    };
    assert_eq!(
        form.encode_to_vec(),
        [0x08, 3, 0x12, 1, b'k', 0x1a, 6, 0x0a, 1, b'a', 0x12, 1, b'b', 0x22, 1, b'u']
    );
    let resp = attachments::GetUploadFormResponse {
        outcome: Some(
            attachments::get_upload_form_response::Outcome::ExceedsMaxUploadLength(
                heliograph_protocol::grpc::errors::FailedPrecondition::default(),
            ),
        ),
    };
    assert_eq!(resp.encode_to_vec(), [0x12, 0]);
}
