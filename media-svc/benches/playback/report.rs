//! The benchmark's result as Markdown: one row per scenario and server, then
//! the ratios the targets are stated in (media-svc over nginx on the local
//! filesystem, media-svc on S3 over a direct S3 GET), and what each server
//! stack spent in CPU per request.

use std::fmt::Write;

use crate::load::{Mode, Outcome};

pub(crate) struct Row {
    pub(crate) server: &'static str,
    pub(crate) mode: Mode,
    pub(crate) clients: usize,
    pub(crate) outcome: Outcome,
    /// Peak resident memory during the scenario, KiB (media-svc only).
    pub(crate) peak_rss_kib: Option<u64>,
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "–".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| server | request | clients | requests | errors | MB/s | req/s | TTFB p50 ms | TTFB p99 ms | server CPU µs/req (own: the server process alone) | peak RSS MiB |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let o = &r.outcome;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.1} | {:.0} | {:.2} | {:.2} | {} | {} |",
            r.server,
            r.mode,
            r.clients,
            o.requests,
            o.errors,
            o.mb_per_s(),
            o.requests_per_s(),
            o.ttfb_ms(0.5),
            o.ttfb_ms(0.99),
            match (o.cpu_us_per_request(), o.own_cpu_us_per_request()) {
                (Some(us), Some(own)) => format!("{us:.0} (own {own:.0})"),
                (Some(us), None) => format!("{us:.0}"),
                _ => "–".into(),
            },
            mib(r.peak_rss_kib),
        );
    }
    out
}

/// `ours / theirs` throughput for every (request, clients) both were run with.
pub(crate) fn ratios(rows: &[Row], pairs: &[(&str, &str)]) -> String {
    let mut out = String::from("| request | clients |");
    for (ours, theirs) in pairs {
        let _ = write!(
            out,
            " {ours} / {theirs} MB/s | p50 TTFB {ours} / {theirs} | server CPU per request {ours} / {theirs} |"
        );
    }
    out.push('\n');
    out.push_str("|---|---:|");
    for _ in pairs {
        out.push_str("---:|---:|---:|");
    }
    out.push('\n');
    let mut seen: Vec<(Mode, usize)> = Vec::new();
    for r in rows {
        if seen.contains(&(r.mode, r.clients)) {
            continue;
        }
        seen.push((r.mode, r.clients));
        let _ = write!(out, "| {} | {} |", r.mode, r.clients);
        let find = |server: &str| {
            rows.iter()
                .find(|x| x.server == server && x.mode == r.mode && x.clients == r.clients)
                .map(|x| &x.outcome)
        };
        for (ours, theirs) in pairs {
            match (find(ours), find(theirs)) {
                (Some(a), Some(b)) => {
                    let cpu = match (a.cpu_us_per_request(), b.cpu_us_per_request()) {
                        (Some(x), Some(y)) => format!("{:.2}×", x / y),
                        _ => "–".into(),
                    };
                    let _ = write!(
                        out,
                        " **{:.2}×** | {:.2}× | {cpu} |",
                        a.mb_per_s() / b.mb_per_s(),
                        a.ttfb_ms(0.5) / b.ttfb_ms(0.5)
                    );
                }
                _ => out.push_str(" – | – | – |"),
            }
        }
        out.push('\n');
    }
    out
}
