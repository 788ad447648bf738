//! Checks the SSv2 parser/splitter and the certificate reader against bytes produced by the
//! real libsignal (npm `@signalapp/libsignal-client` 0.103.0, see `fixtures/gen-libsignal-fixture.mjs`).

use heliograph_protocol::certificate::{
    parse_sender_certificate, parse_server_certificate, Signer,
};
use heliograph_protocol::ssv2;
use heliograph_types::ServiceId;

fn fixture() -> serde_json::Value {
    serde_json::from_str(include_str!("fixtures/libsignal-0.103.0.json")).unwrap()
}

fn hex_field(v: &serde_json::Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn ssv2_matches_libsignal_byte_for_byte() {
    let f = fixture();
    let sent = hex_field(&f["sent"]);
    let m = ssv2::parse(&sent).unwrap();
    assert_eq!(m.version, ssv2::VERSION_SERVICE_ID);

    let expected = f["recipients"].as_object().unwrap();
    assert_eq!(m.recipients.len(), expected.len());
    for (id, want) in expected {
        let service_id: ServiceId = id.parse().unwrap();
        let r = m
            .recipient(&service_id)
            .unwrap_or_else(|| panic!("missing {id}"));
        let devices: Vec<u64> = r
            .devices
            .iter()
            .map(|d| u64::from(d.device_id.get()))
            .collect();
        let regs: Vec<u64> = r
            .devices
            .iter()
            .map(|d| u64::from(d.registration_id))
            .collect();
        let want_devices: Vec<u64> = want["deviceIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        let want_regs: Vec<u64> = want["registrationIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(devices, want_devices, "{id}");
        assert_eq!(regs, want_regs, "{id}");
        assert_eq!(
            m.message_for_recipient(r),
            hex_field(&want["message"]),
            "{id}"
        );
    }

    let excluded: Vec<String> = m
        .excluded_recipients
        .iter()
        .map(ToString::to_string)
        .collect();
    let want_excluded: Vec<String> = f["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(excluded, want_excluded);
}

#[test]
fn ssv2_truncations_of_real_message_never_panic() {
    let sent = hex_field(&fixture()["sent"]);
    for len in 0..sent.len() {
        let _ = ssv2::parse(&sent[..len]);
    }
}

#[test]
fn certificates_from_libsignal_parse() {
    let f = fixture();
    let server = parse_server_certificate(&hex_field(&f["serverCertificate"])).unwrap();
    assert_eq!(server.id, 0x7357C357);
    let sender = parse_sender_certificate(&hex_field(&f["senderCertificate"])).unwrap();
    assert_eq!(sender.sender_e164.as_deref(), Some("+15555550101"));
    assert_eq!(sender.expires, 1_700_000_000_000);
    assert_eq!(sender.signer, Signer::Embedded(server.clone()));
    // The embedded server key must verify the sender certificate, and the trust root the server one.
    let root = heliograph_types::PublicKey::from_bytes(&hex_field(&f["trustRoot"])).unwrap();
    root.verify(&[&server.certificate], &server.signature)
        .unwrap();
    server
        .key
        .verify(&[&sender.certificate], &sender.signature)
        .unwrap();
}
