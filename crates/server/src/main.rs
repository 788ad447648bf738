//! The `heliograph` command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use heliograph_server::config::{self, Overrides};

/// Heliograph: a Signal-compatible server in one binary.
///
/// `heliograph serve` with no options starts a development server on https://127.0.0.1:8443
/// with an embedded database and test-mode registration, keeping everything in
/// ./heliograph-data. Clients need the files it writes to ./heliograph-data/public/.
#[derive(Parser)]
#[command(name = "heliograph", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server until SIGINT or SIGTERM.
    ///
    /// Prints `listening on https://ADDR:PORT` once it accepts connections. On first start it
    /// creates its keys, a local TLS CA and the database under the data directory.
    Serve(Common),
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print the effective values, secrets masked.
    Check(Common),
}

#[derive(Args)]
struct Common {
    /// Configuration file (TOML). Environment variables HELIOGRAPH_SECTION__KEY override it.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory for keys, certificates and the embedded database
    /// [default: ./heliograph-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// TLS listen address; port 0 picks a free port [default: 127.0.0.1:8443].
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// Also serve plaintext HTTP here (behind a TLS-terminating proxy only).
    #[arg(long, value_name = "ADDR:PORT")]
    plaintext_listen: Option<String>,
    /// PostgreSQL URL (postgres://…) instead of the embedded SQLite store.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Redis URL (redis://…) for presence and wake-ups shared by several nodes.
    #[arg(long, value_name = "URL")]
    redis_url: Option<String>,
}

impl Common {
    fn load(&self) -> anyhow::Result<config::Loaded> {
        let overrides = Overrides {
            data_dir: self.data_dir.clone(),
            listen: self.listen.clone(),
            plaintext_listen: self.plaintext_listen.clone(),
            database_url: self.database_url.clone(),
            redis_url: self.redis_url.clone(),
        };
        config::load(self.config.as_deref(), &overrides)
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HELIOGRAPH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(common) => {
            let loaded = common.load()?;
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(serve(loaded.config))
        }
        Command::Config {
            command: ConfigCommand::Check(common),
        } => {
            let loaded = common.load()?;
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", config::render_masked(&loaded.config)?);
            eprintln!("configuration is valid");
            Ok(())
        }
    }
}

async fn serve(config: heliograph_server::Config) -> anyhow::Result<()> {
    let addr = config::parse_addr(&config.server.listen, "server.listen")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (is another server running?)"))?;
    let public = config.server.data_dir.join("public");
    let shutdown = shutdown_signal()?;
    heliograph_server::run(config, listener, shutdown, |bound| {
        println!("listening on https://{}", bound.tls);
        if let Some(plain) = bound.plaintext {
            println!("listening on http://{plain}");
        }
        println!(
            "client files (TLS CA, sealed-sender trust root): {}",
            public.display()
        );
    })
    .await
}

/// Installs the SIGINT/SIGTERM handlers now (before the server announces itself, so an early
/// signal is never fatal) and returns a future that completes on the first signal.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot install the SIGINT handler")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}
