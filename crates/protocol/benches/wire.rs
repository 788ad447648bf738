//! Criterion benchmarks of the wire formats on every message's path: `Envelope` and
//! `WebSocketMessage` encode/decode (a delivery push carrying a 512-byte ciphertext), and
//! sealed-sender v2 parsing and per-recipient splitting for 10, 100 and 1000 recipients.
//! Run with `cargo bench -p heliograph-protocol`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use prost::Message;

use heliograph_protocol::proto::textsecure::{envelope, Envelope};
use heliograph_protocol::ssv2::{self, MultiRecipientMessage, RecipientDevice};
use heliograph_protocol::websocket::{decode_frame, encode_request, request};
use heliograph_types::{Aci, DeviceId, ServiceId};

/// An identified delivery as the server stores and pushes it: both id forms filled.
fn envelope() -> Envelope {
    let source = ServiceId::Aci(Aci::from_uuid(uuid::Uuid::from_u128(1)));
    let destination = ServiceId::Aci(Aci::from_uuid(uuid::Uuid::from_u128(2)));
    let mut e = Envelope {
        r#type: Some(envelope::Type::Ciphertext as i32),
        client_timestamp: Some(1_700_000_000_000),
        source_device: Some(1),
        content: Some(vec![0xAB; 512]),
        server_timestamp: Some(1_700_000_000_123),
        urgent: Some(true),
        source_service_id: Some(source.to_binary()),
        destination_service_id: Some(destination.to_binary()),
        server_guid: Some(uuid::Uuid::from_u128(3).as_bytes().to_vec()),
        ..Default::default()
    };
    e.fill_legacy_string_fields();
    e
}

fn envelope_and_frame(c: &mut Criterion) {
    let env = envelope();
    let bytes = env.encode_to_vec();
    let mut g = c.benchmark_group("envelope");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode", |b| b.iter(|| black_box(&env).encode_to_vec()));
    g.bench_function("decode", |b| {
        b.iter(|| Envelope::decode(black_box(bytes.as_slice())))
    });
    g.finish();

    let push = || {
        request(
            7,
            "PUT",
            "/api/v1/message",
            vec!["X-Signal-Timestamp:1700000000123".to_owned()],
            Some(bytes.clone()),
        )
    };
    let frame = encode_request(push());
    let mut g = c.benchmark_group("websocket_frame");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("encode_push", |b| {
        b.iter(|| encode_request(black_box(push())))
    });
    g.bench_function("decode_push", |b| {
        b.iter(|| decode_frame(black_box(&frame)))
    });
    g.finish();
}

fn ssv2_message(recipients: usize) -> Vec<u8> {
    let list: Vec<_> = (0..recipients)
        .map(|i| {
            (
                ServiceId::Aci(Aci::from_uuid(uuid::Uuid::from_u128(i as u128 + 1))),
                vec![RecipientDevice {
                    device_id: DeviceId::PRIMARY,
                    registration_id: (i % 0x3FFF) as u16 + 1,
                }],
                [i as u8; 48],
            )
        })
        .collect();
    // Ephemeral key, then a 512-byte ciphertext.
    ssv2::encode(&list, &[0x5A; 32 + 512])
}

fn ssv2_parse_and_split(c: &mut Criterion) {
    let mut g = c.benchmark_group("ssv2");
    for n in [10usize, 100, 1000] {
        let body = ssv2_message(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("parse", n), &body, |b, body| {
            b.iter(|| MultiRecipientMessage::parse(black_box(body)))
        });
        let parsed = MultiRecipientMessage::parse(&body).expect("well-formed");
        g.bench_with_input(BenchmarkId::new("split_all", n), &parsed, |b, m| {
            b.iter(|| {
                m.recipients
                    .iter()
                    .map(|r| m.message_for_recipient(r).len())
                    .sum::<usize>()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, envelope_and_frame, ssv2_parse_and_split);
criterion_main!(benches);
