//! The `heliograph-load` command line: `run` drives a server through scenarios, `report`
//! turns JSON results into the markdown tables of `docs/benchmarks.md`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use heliograph_load::report::{self, RunDocument};
use heliograph_load::scenarios::{self, Common, Ctx, Report};
use heliograph_load::server::{Kind, Server};
use heliograph_load::transport::HttpVersion;

/// Load generator for Heliograph and other Signal-compatible servers.
#[derive(Parser)]
#[command(name = "heliograph-load", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios against a server; exits non-zero if any request failed.
    Run(Box<RunArgs>),
    /// Print markdown tables from JSON results: the first file is the subject, the others
    /// baselines it is compared with (ratios subject / baseline).
    Report {
        /// JSON files written by `run --json`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a markdown table of criterion results (median time, and throughput where the
    /// bench declares one) found under a criterion output directory.
    Criterion {
        /// Usually target/criterion.
        #[arg(default_value = "target/criterion")]
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Idle,
    Throughput,
    Drain,
    Fanout,
    Registration,
    All,
}

#[derive(Args)]
struct RunArgs {
    /// Scenarios to run, in order.
    #[arg(value_enum, default_value = "all")]
    scenarios: Vec<Scenario>,

    /// What the server is (decides how it is spawned and which scenarios it supports).
    #[arg(long, value_enum, default_value = "heliograph")]
    kind: Kind,
    /// Spawn the server: the heliograph or heliograph-echo binary, or the mock's
    /// start-mock.cjs (run with node). It gets a fresh temporary directory.
    #[arg(long, value_name = "PATH", conflicts_with = "target")]
    spawn: Option<PathBuf>,
    /// Keep the spawned server's directory (database, log) instead of removing it.
    #[arg(long)]
    keep_data: bool,
    /// Address of a running server.
    #[arg(long, value_name = "ADDR:PORT")]
    target: Option<SocketAddr>,
    /// CA certificate (PEM) of a running server, e.g. heliograph-data/public/tls-ca.pem.
    #[arg(long, value_name = "FILE", requires = "target")]
    ca: Option<PathBuf>,
    /// Process id of a running server, for memory and CPU figures.
    #[arg(long, value_name = "PID", requires = "target")]
    server_pid: Option<u32>,
    /// Data directory of a running heliograph, for store bytes per queued message.
    #[arg(long, value_name = "DIR", requires = "target")]
    data_dir: Option<PathBuf>,
    /// HTTP version carrying the WebSockets.
    #[arg(long, value_enum, default_value = "1")]
    http: HttpVersion,
    /// Name of this run in tables [default: the kind].
    #[arg(long)]
    label: Option<String>,
    /// Write the results as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Ciphertext bytes per message.
    #[arg(long, default_value_t = 512)]
    payload_bytes: usize,
    /// throughput: send sealed-sender (unauthenticated socket, access key) instead of
    /// identified, which makes the server queue a delivery receipt per message. The drain
    /// and fan-out scenarios always send sealed.
    #[arg(long)]
    sealed: bool,
    /// Registrations or connects in flight while setting up.
    #[arg(long, default_value_t = 16)]
    setup_concurrency: usize,

    /// idle: sockets to hold.
    #[arg(long, default_value_t = 1000)]
    idle_connections: usize,
    /// idle: seconds to hold them.
    #[arg(long, default_value_t = 10)]
    idle_hold: u64,

    /// throughput: device pairs.
    #[arg(long, default_value_t = 50)]
    pairs: usize,
    /// throughput: target messages per second, all senders together; several rates (comma
    /// separated) run one after the other as `throughput_<rate>`.
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    rate: Vec<f64>,
    /// throughput: seconds to send.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,

    /// drain: offline devices.
    #[arg(long, default_value_t = 20)]
    drain_devices: usize,
    /// drain: messages queued per device.
    #[arg(long, default_value_t = 500)]
    drain_messages: usize,
    /// drain: sending devices.
    #[arg(long, default_value_t = 10)]
    drain_senders: usize,

    /// fanout: group sizes (devices).
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000")]
    fanout_sizes: Vec<usize>,
    /// fanout: messages per group size.
    #[arg(long, default_value_t = 20)]
    fanout_messages: usize,

    /// registration: clients registering at once.
    #[arg(long, default_value_t = 8)]
    registration_concurrency: usize,
    /// registration: seconds to keep registering.
    #[arg(long, default_value_t = 10.0)]
    registration_duration: f64,
    /// registration: one-time EC and Kyber prekeys uploaded per identity.
    #[arg(long, default_value_t = 100)]
    prekeys: u32,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Report { files } => {
            let mut docs = Vec::new();
            for f in files {
                let text =
                    std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
                let doc: RunDocument = serde_json::from_slice(&text)
                    .with_context(|| format!("{} is not a heliograph-load result", f.display()))?;
                docs.push(doc);
            }
            print!("{}", report::markdown(&docs));
            Ok(())
        }
        Command::Criterion { dir } => {
            print!("{}", report::criterion_table(&dir)?);
            Ok(())
        }
        Command::Run(args) => {
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let errors = runtime.block_on(run(*args))?;
            if errors > 0 {
                eprintln!("{errors} errors: failing the run");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

fn expand(list: &[Scenario]) -> Vec<Scenario> {
    let all = [
        Scenario::Registration,
        Scenario::Idle,
        Scenario::Throughput,
        Scenario::Drain,
        Scenario::Fanout,
    ];
    let mut out = Vec::new();
    for s in list {
        if *s == Scenario::All {
            out.extend(all);
        } else {
            out.push(*s);
        }
    }
    out
}

/// Why the mock server cannot run a scenario, if it cannot.
fn unsupported(kind: Kind, s: Scenario) -> Option<&'static str> {
    match (kind, s) {
        (Kind::Mock, Scenario::Drain) => Some(
            "@signalapp/mock-server answers a send to an offline device only once the device \
             has taken the message, so nothing can be queued ahead of a connect",
        ),
        (Kind::Mock, Scenario::Throughput) => Some(
            "@signalapp/mock-server relays a 1:1 message to a socket only for linked \
             (non-primary) devices; a message to a primary goes to its in-process simulated \
             client, or nowhere, so accounts registered over the network never receive one",
        ),
        (Kind::Mock, Scenario::Fanout) => Some(
            "@signalapp/mock-server accepts multi-recipient messages only over gRPC, not on \
             the WebSocket or REST path",
        ),
        _ => None,
    }
}

/// Adds a scenario's report, or its failure as an error.
fn push(reports: &mut Vec<Report>, r: anyhow::Result<Report>, name: &str) {
    let r = r.unwrap_or_else(|e| {
        let mut r = Report::new(name);
        r.errors.insert(format!("{e:#}"), 1);
        r
    });
    let errors: u64 = r.errors.values().sum();
    eprintln!("{}: done, {errors} errors", r.scenario);
    reports.push(r);
}

async fn run(args: RunArgs) -> anyhow::Result<u64> {
    heliograph_load::stats::epoch();
    if args.payload_bytes < heliograph_load::payload::MIN_BYTES {
        anyhow::bail!(
            "--payload-bytes must be at least {}",
            heliograph_load::payload::MIN_BYTES
        );
    }
    if args.kind == Kind::Mock && args.http == HttpVersion::Http1 {
        anyhow::bail!("@signalapp/mock-server serves WebSockets only over HTTP/2: add --http 2");
    }
    if args.kind == Kind::Mock && args.sealed {
        anyhow::bail!("@signalapp/mock-server does not keep the access keys sent at registration, so --sealed cannot work against it");
    }
    let server = match (&args.spawn, args.target) {
        (Some(program), _) => Server::spawn(args.kind, program, args.keep_data)?,
        (None, Some(addr)) => {
            let ca = args.ca.clone().context("--target needs --ca")?;
            Server::external(addr, ca, args.server_pid, args.data_dir.clone())
        }
        (None, None) => anyhow::bail!("give --spawn PATH or --target ADDR:PORT --ca FILE"),
    };
    eprintln!("server at {} (pid {:?})", server.addr, server.pid);
    let common = Common {
        payload_bytes: args.payload_bytes,
        sealed: args.sealed,
        setup_concurrency: args.setup_concurrency,
    };
    let mut ctx = Ctx::new(server, args.kind, args.http, common.clone())?;
    let started_utc = report::utc(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );

    let mut reports: Vec<Report> = Vec::new();
    for s in expand(&args.scenarios) {
        if let Some(why) = unsupported(args.kind, s) {
            let name = format!("{:?}", s).to_lowercase();
            eprintln!("{name}: not supported by this server: {why}");
            reports.push(Report::skipped(&name, why));
            continue;
        }
        let r = match s {
            Scenario::Idle => {
                scenarios::idle::run(
                    &mut ctx,
                    &scenarios::idle::Idle {
                        connections: args.idle_connections,
                        hold: Duration::from_secs(args.idle_hold),
                    },
                )
                .await
            }
            Scenario::Throughput => {
                let mut last = Ok(Report::new("throughput"));
                for (i, rate) in args.rate.iter().enumerate() {
                    let r = scenarios::throughput::run(
                        &mut ctx,
                        &scenarios::throughput::Throughput {
                            pairs: args.pairs,
                            rate: *rate,
                            duration: Duration::from_secs_f64(args.duration),
                        },
                    )
                    .await
                    .map(|mut r| {
                        if args.rate.len() > 1 {
                            r.scenario = format!("throughput_{rate}");
                        }
                        r
                    });
                    if i + 1 == args.rate.len() {
                        last = r;
                    } else {
                        push(&mut reports, r, "throughput");
                    }
                }
                last
            }
            Scenario::Drain => {
                scenarios::drain::run(
                    &mut ctx,
                    &scenarios::drain::Drain {
                        devices: args.drain_devices,
                        messages: args.drain_messages,
                        senders: args.drain_senders,
                    },
                )
                .await
            }
            Scenario::Fanout => {
                scenarios::fanout::run(
                    &mut ctx,
                    &scenarios::fanout::Fanout {
                        sizes: args.fanout_sizes.clone(),
                        messages: args.fanout_messages,
                    },
                )
                .await
            }
            Scenario::Registration => {
                scenarios::registration::run(
                    &mut ctx,
                    &scenarios::registration::Registration {
                        concurrency: args.registration_concurrency,
                        duration: Duration::from_secs_f64(args.registration_duration),
                        prekeys: args.prekeys,
                    },
                )
                .await
            }
            Scenario::All => continue,
        };
        push(&mut reports, r, &format!("{:?}", s).to_lowercase());
        if !ctx.server.alive() {
            eprintln!("the server exited; stopping");
            let mut r = Report::new("server");
            r.errors.insert("server process exited".into(), 1);
            reports.push(r);
            break;
        }
    }

    let doc = RunDocument {
        tool: format!("heliograph-load {}", env!("CARGO_PKG_VERSION")),
        started_utc,
        label: args
            .label
            .clone()
            .unwrap_or_else(|| format!("{:?}", args.kind).to_lowercase()),
        kind: format!("{:?}", args.kind).to_lowercase(),
        http: match args.http {
            HttpVersion::Http1 => "1".into(),
            HttpVersion::Http2 => "2".into(),
        },
        common: serde_json::to_value(&common)?,
        reports,
    };
    print!("{}", report::summary(&doc));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    ctx.server.stop();
    Ok(doc
        .reports
        .iter()
        .map(|r| r.errors.values().sum::<u64>())
        .sum())
}
