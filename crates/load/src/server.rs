//! The server under test as a process: spawned by the tool (heliograph on a fresh data
//! directory, the echo baseline, or `@signalapp/mock-server` through its start script) or
//! given by pid, and sampled through `/proc` for resident memory and CPU time.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Serialize;

/// What kind of server is being driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Heliograph (`heliograph serve`).
    Heliograph,
    /// The minimal relay `heliograph-echo`.
    Echo,
    /// `@signalapp/mock-server` started by `crates/load/mock/start-mock.cjs`.
    Mock,
}

/// Linux reports CPU times in clock ticks; 100 per second on every common build.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// One look at the server process.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Sample {
    /// Resident set size in KiB.
    pub rss_kib: u64,
    /// User + system CPU time in seconds since the process started.
    pub cpu_seconds: f64,
}

/// A running server.
pub struct Server {
    /// Its process id, when known.
    pub pid: Option<u32>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The CA certificate its TLS certificate chains to.
    pub ca: PathBuf,
    /// Its data directory, when known (for store size per queued message).
    pub data_dir: Option<PathBuf>,
    child: Option<Child>,
    remove_dir: Option<PathBuf>,
}

impl Server {
    /// A server someone else started.
    pub fn external(
        addr: SocketAddr,
        ca: PathBuf,
        pid: Option<u32>,
        data_dir: Option<PathBuf>,
    ) -> Server {
        Server {
            pid,
            addr,
            ca,
            data_dir,
            child: None,
            remove_dir: None,
        }
    }

    /// Spawns `program` as a server of `kind` on 127.0.0.1 with a free port and a fresh
    /// directory (kept if `keep` is set), and waits until it listens.
    pub fn spawn(kind: Kind, program: &Path, keep: bool) -> anyhow::Result<Server> {
        let dir = std::env::temp_dir().join(format!("heliograph-load-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let log = std::fs::File::create(dir.join("server.log"))?;
        let mut cmd = match kind {
            Kind::Heliograph => {
                let mut c = Command::new(program);
                c.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
                    .arg(dir.join("data"));
                c
            }
            Kind::Echo => {
                let mut c = Command::new(program);
                c.args(["--listen", "127.0.0.1:0", "--ca-out"])
                    .arg(dir.join("ca.pem"));
                c
            }
            Kind::Mock => {
                let mut c = Command::new("node");
                c.arg(program);
                c
            }
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut addr = None;
        let mut ca = match kind {
            Kind::Heliograph => Some(dir.join("data/public/tls-ca.pem")),
            Kind::Echo => Some(dir.join("ca.pem")),
            Kind::Mock => None,
        };
        while addr.is_none() || ca.is_none() {
            let Some(line) = lines.next() else {
                let _ = child.kill();
                bail!(
                    "{} exited before listening; see {}",
                    program.display(),
                    dir.join("server.log").display()
                );
            };
            let line = line?;
            if let Some(a) = line.strip_prefix("listening on https://") {
                addr = Some(
                    a.trim()
                        .parse()
                        .with_context(|| format!("bad address line {line:?}"))?,
                );
            } else if let Some(p) = line.strip_prefix("tls ca: ") {
                ca = Some(PathBuf::from(p.trim()));
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let (Some(addr), Some(ca)) = (addr, ca) else {
            bail!("no address");
        };
        Ok(Server {
            pid: Some(child.id()),
            addr,
            ca,
            data_dir: (kind == Kind::Heliograph).then(|| dir.join("data")),
            child: Some(child),
            remove_dir: (!keep).then_some(dir),
        })
    }

    /// Memory and CPU of the server now (zeros when the pid is unknown).
    pub fn sample(&self) -> Sample {
        self.pid.and_then(sample).unwrap_or_default()
    }

    /// Bytes used by the data directory (database, WAL), if known.
    pub fn store_bytes(&self) -> Option<u64> {
        self.data_dir.as_deref().map(dir_size)
    }

    /// Whether a spawned server is still running.
    pub fn alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// Stops a spawned server and removes its directory.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(d) = self.remove_dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Reads `/proc/<pid>/status` (VmRSS) and `/proc/<pid>/stat` (utime + stime).
pub fn sample(pid: u32) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Sample {
        rss_kib,
        cpu_seconds: (utime + stime) / CLOCK_TICKS_PER_SECOND,
    })
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Waits until RSS stops moving (allocators return memory lazily), at most `max`.
pub async fn settle(server: &Server, max: Duration) -> Sample {
    let mut last = server.sample();
    let deadline = tokio::time::Instant::now() + max;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = server.sample();
        if now.rss_kib.abs_diff(last.rss_kib) * 100 <= last.rss_kib.max(1) {
            return now;
        }
        last = now;
    }
    last
}

#[cfg(test)]
mod tests {
    #[test]
    fn samples_this_process() {
        let s = super::sample(std::process::id()).unwrap();
        assert!(s.rss_kib > 0);
        assert!(super::sample(u32::MAX).is_none());
    }
}
