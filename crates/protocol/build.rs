//! Compiles the `.proto` files under `proto/` with protox (no `protoc` binary needed) and
//! generates prost messages plus tonic server stubs (clients only for tests).

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/TextSecure.proto",
    "proto/WebSocketProtocol.proto",
    "proto/Provisioning.proto",
    "proto/org/signal/chat/common.proto",
    "proto/org/signal/chat/errors.proto",
    "proto/org/signal/chat/keys.proto",
    "proto/org/signal/chat/messages.proto",
    "proto/org/signal/chat/account.proto",
    "proto/org/signal/chat/device.proto",
    "proto/org/signal/chat/attachments.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(true)
        .generate_default_stubs(true)
        .out_dir(out_dir)
        .compile_fds(fds)?;
    Ok(())
}
