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
