//! The generated gRPC services keep the official names, so request paths match.

use heliograph_protocol::grpc::{account, device, keys, messages};

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
