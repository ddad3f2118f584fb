//! Tiny `--key value` argument parser and options shared by the scenarios.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;

use crate::eio::{self, Target, Ws};
use crate::procfs::CpuProbe;

/// Parsed `--key value` pairs.
pub struct Args {
    map: HashMap<String, String>,
}

impl Args {
    /// Parses a list of `--key value` pairs.
    pub fn parse(argv: &[String]) -> Result<Args, String> {
        let mut map = HashMap::new();
        let mut it = argv.iter();
        while let Some(k) = it.next() {
            let key = k
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {k:?}"))?;
            let val = it.next().ok_or_else(|| format!("missing value for {k}"))?;
            map.insert(key.to_string(), val.clone());
        }
        Ok(Args { map })
    }

    /// A string option.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// A required string option.
    pub fn req(&self, key: &str) -> Result<&str, String> {
        self.str(key).ok_or_else(|| format!("--{key} is required"))
    }

    /// An unsigned integer option with a default.
    pub fn u64(&self, key: &str, default: u64) -> Result<u64, String> {
        match self.str(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{key}: not an unsigned integer: {v:?}")),
        }
    }

    /// A non-negative number of seconds with a default.
    pub fn secs(&self, key: &str, default: f64) -> Result<Duration, String> {
        let v = match self.str(key) {
            None => default,
            Some(v) => v
                .parse::<f64>()
                .map_err(|_| format!("--{key}: not a number: {v:?}"))?,
        };
        if !(0.0..=86_400.0).contains(&v) {
            return Err(format!("--{key}: out of range: {v}"));
        }
        Ok(Duration::from_secs_f64(v))
    }

    /// The target server from `--url`.
    pub fn target(&self) -> Result<Target, String> {
        Target::parse(self.req("url")?)
    }

    /// CPU probe for `--server-pid` / `--clk-tck`.
    pub fn probe(&self) -> Result<CpuProbe, String> {
        Ok(CpuProbe::new(
            self.str("server-pid").map(str::to_string),
            self.u64("clk-tck", 100)?,
        ))
    }
}

/// Opens `n` connected Socket.IO sockets with at most `concurrency`
/// handshakes in flight. Returns the sockets and the number of failures
/// (the first error message is kept).
pub async fn connect_many(
    target: &Target,
    n: usize,
    concurrency: usize,
    timeout: Duration,
) -> (Vec<Ws>, usize, Option<String>) {
    let results: Vec<Result<Ws, String>> = futures_util::stream::iter(0..n)
        .map(|_| eio::connect(target, timeout))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut ok = Vec::with_capacity(n);
    let mut failed = 0;
    let mut first_err = None;
    for r in results {
        match r {
            Ok(ws) => ok.push(ws),
            Err(e) => {
                failed += 1;
                first_err.get_or_insert(e);
            }
        }
    }
    (ok, failed, first_err)
}

/// Prints one JSON line on stdout and flushes it.
pub fn emit(v: &serde_json::Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}
