//! Output: the summary printed at the end of a run, the JSON document (`--json`), and the
//! markdown tables `heliograph-load report` builds from several JSON documents (the subject
//! first, then the baselines it is compared against, as ratios).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::scenarios::Report;

/// A run as written to JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunDocument {
    /// Tool name and version.
    pub tool: String,
    /// UTC date and time the run started (`YYYY-MM-DD HH:MM`).
    pub started_utc: String,
    /// Short name for tables ("heliograph", "echo", "mock", or `--label`).
    pub label: String,
    /// Kind of server.
    pub kind: String,
    /// HTTP version of the sockets ("1" or "2").
    pub http: String,
    /// Shared settings.
    pub common: serde_json::Value,
    /// One report per scenario.
    pub reports: Vec<Report>,
}

/// `YYYY-MM-DD HH:MM` in UTC for a Unix time.
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

fn number(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The human summary of a run.
pub fn summary(doc: &RunDocument) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} against {} (HTTP/{})",
        doc.tool, doc.label, doc.http
    );
    for r in &doc.reports {
        let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "\n== {} ({})", r.scenario, params.join(" "));
        if let Some(why) = &r.skipped {
            let _ = writeln!(out, "   skipped: {why}");
            continue;
        }
        let width = r.metrics.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in &r.metrics {
            let _ = writeln!(out, "   {k:<width$}  {:>12}", number(*v));
        }
        if r.errors.is_empty() {
            let _ = writeln!(out, "   errors: none");
        } else {
            for (k, n) in &r.errors {
                let _ = writeln!(out, "   ERROR x{n}: {k}");
            }
        }
    }
    out
}

/// Figures shown in the markdown tables, per scenario, in order (others stay in the JSON).
fn key_metrics(scenario: &str, available: &[&String]) -> Vec<String> {
    let kind = if scenario.starts_with("throughput") {
        "throughput"
    } else {
        scenario
    };
    let fixed: &[&str] = match kind {
        "idle" => &[
            "connected",
            "connect_per_s",
            "connect_p50_ms",
            "connect_p99_ms",
            "rss_before_mib",
            "rss_held_mib",
            "rss_per_connection_kib",
        ],
        "throughput" => &[
            "send_rate_per_s",
            "delivered_per_s",
            "e2e_p50_ms",
            "e2e_p99_ms",
            "e2e_p999_ms",
            "send_rtt_p50_ms",
            "send_rtt_p99_ms",
            "server_cpu_percent",
            "server_cpu_us_per_message",
            "rss_mib",
        ],
        "drain" => &[
            "queued",
            "enqueue_per_s",
            "enqueue_rtt_p50_ms",
            "enqueue_rtt_p99_ms",
            "store_bytes_per_queued_message",
            "rss_per_queued_message_bytes",
            "drain_s",
            "drain_per_s",
            "acks_pending_after_delivery_s",
            "device_drained_p50_ms",
            "device_drained_max_ms",
            "drain_server_cpu_us_per_message",
        ],
        "registration" => &[
            "registered",
            "registrations_per_s",
            "flow_p50_ms",
            "flow_p99_ms",
            "key_upload_p50_ms",
            "server_cpu_ms_per_registration",
        ],
        _ => &[],
    };
    if fixed.is_empty() {
        // Fan-out: everything per group size, then the overall latency.
        return available
            .iter()
            .filter(|k| !k.ends_with("_max_ms") && !k.ends_with("_p999_ms"))
            .map(|k| (*k).clone())
            .collect();
    }
    fixed.iter().map(|s| (*s).to_owned()).collect()
}

/// Markdown tables comparing `docs[0]` (the subject) with the rest, scenario by scenario,
/// with a ratio column subject / baseline for each baseline.
pub fn markdown(docs: &[RunDocument]) -> String {
    let mut out = String::new();
    let Some(subject) = docs.first() else {
        return out;
    };
    for r in &subject.reports {
        let others: Vec<Option<&Report>> = docs[1..]
            .iter()
            .map(|d| d.reports.iter().find(|o| o.scenario == r.scenario))
            .collect();
        let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "#### {} ({})\n", r.scenario, params.join(", "));
        if let Some(why) = &r.skipped {
            let _ = writeln!(out, "{}: skipped ({why})\n", subject.label);
            continue;
        }
        let mut header = format!("| metric | {} |", subject.label);
        let mut rule = "|---|---:|".to_owned();
        for (d, _) in docs[1..].iter().zip(&others) {
            let _ = write!(header, " {} | {} / {} |", d.label, subject.label, d.label);
            rule.push_str("---:|---:|");
        }
        let _ = writeln!(out, "{header}\n{rule}");
        let available: Vec<&String> = r.metrics.keys().collect();
        for k in key_metrics(&r.scenario, &available) {
            let Some(v) = r.metrics.get(&k) else { continue };
            let mut row = format!("| {k} | {} |", number(*v));
            for o in &others {
                match o.and_then(|o| {
                    if o.skipped.is_some() {
                        None
                    } else {
                        o.metrics.get(&k)
                    }
                }) {
                    Some(b) if *b != 0.0 => {
                        let _ = write!(row, " {} | {:.2} |", number(*b), v / b);
                    }
                    Some(b) => {
                        let _ = write!(row, " {} | – |", number(*b));
                    }
                    None => row.push_str(" – | – |"),
                }
            }
            let _ = writeln!(out, "{row}");
        }
        for (d, o) in docs[1..].iter().zip(&others) {
            if let Some(why) = o.and_then(|o| o.skipped.as_ref()) {
                let _ = writeln!(out, "\n{}: not run ({why})", d.label);
            }
        }
        let errors: u64 = r.errors.values().sum();
        let _ = writeln!(
            out,
            "\nerrors: {}\n",
            if errors == 0 {
                "none".to_owned()
            } else {
                errors.to_string()
            }
        );
    }
    out
}

#[derive(Deserialize)]
struct CriterionBenchmark {
    full_id: String,
    #[serde(default)]
    throughput: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct CriterionEstimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct CriterionEstimates {
    median: CriterionEstimate,
}

fn duration(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// A markdown table of every criterion benchmark under `dir` (its `*/new/` results): median
/// time per iteration, and bytes or elements per second where the bench declares them.
pub fn criterion_table(dir: &std::path::Path) -> anyhow::Result<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "new") && p.join("estimates.json").exists() {
                    out.push(p);
                } else {
                    walk(&p, out);
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, &mut found);
    let mut rows = Vec::new();
    for p in found {
        let b: CriterionBenchmark =
            serde_json::from_slice(&std::fs::read(p.join("benchmark.json"))?)?;
        let e: CriterionEstimates =
            serde_json::from_slice(&std::fs::read(p.join("estimates.json"))?)?;
        let ns = e.median.point_estimate;
        let rate = match b.throughput.as_ref() {
            Some(serde_json::Value::Object(t)) => {
                if let Some(n) = t.get("Bytes").and_then(|v| v.as_f64()) {
                    format!("{:.0} MiB/s", n / (ns / 1e9) / (1 << 20) as f64)
                } else if let Some(n) = t.get("Elements").and_then(|v| v.as_f64()) {
                    format!("{} elements/s", number(n / (ns / 1e9)))
                } else {
                    String::new()
                }
            }
            _ => format!("{}/s", number(1e9 / ns)),
        };
        rows.push((b.full_id, duration(ns), rate));
    }
    rows.sort();
    let mut out = String::from("| benchmark | median | rate |\n|---|---:|---:|\n");
    for (id, t, r) in rows {
        let _ = writeln!(out, "| {id} | {t} | {r} |");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00");
        assert_eq!(utc(1_767_225_599), "2025-12-31 23:59");
    }

    #[test]
    fn ratio_table() {
        let doc = |label: &str, rate: f64| RunDocument {
            tool: "t".into(),
            started_utc: utc(0),
            label: label.into(),
            kind: label.into(),
            http: "1".into(),
            common: serde_json::Value::Null,
            reports: vec![Report {
                scenario: "throughput".into(),
                params: Default::default(),
                metrics: [("delivered_per_s".to_owned(), rate)].into_iter().collect(),
                errors: Default::default(),
                skipped: None,
            }],
        };
        let md = markdown(&[doc("heliograph", 500.0), doc("echo", 1000.0)]);
        assert!(
            md.contains("| delivered_per_s | 500 | 1000 | 0.50 |"),
            "{md}"
        );
    }
}
