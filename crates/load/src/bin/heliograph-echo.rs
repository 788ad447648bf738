//! `heliograph-echo`: the minimal TLS WebSocket relay the load tool measures heliograph
//! against (see `heliograph_load::echo`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// A minimal TLS WebSocket relay speaking just enough of the Signal chat protocol for
/// heliograph-load: the transport's own limit on this machine.
#[derive(Parser)]
#[command(name = "heliograph-echo", version, about)]
struct Cli {
    /// Listen address; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8444")]
    listen: SocketAddr,
    /// Where to write the CA certificate (PEM) clients must trust.
    #[arg(long, value_name = "FILE", default_value = "heliograph-echo-ca.pem")]
    ca_out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(heliograph_load::echo::serve(cli.listen, &cli.ca_out))
}
