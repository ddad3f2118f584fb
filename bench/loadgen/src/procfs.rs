//! Reads CPU time and resident memory of a process from `/proc`.

/// CPU time (user + system) of `pid` in clock ticks, from `/proc/<pid>/stat`.
pub fn cpu_ticks(pid: &str) -> Option<u64> {
    cpu_ticks_split(pid).map(|(u, s)| u + s)
}

/// (user, system) CPU time of `pid` in clock ticks, from `/proc/<pid>/stat`.
pub fn cpu_ticks_split(pid: &str) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime, stime))
}

/// Resident set size of `pid` in KiB, from `/proc/<pid>/status` (VmRSS).
pub fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// CPU-time sampler for the server under test and for this process.
pub struct CpuProbe {
    server_pid: Option<String>,
    clk_tck: u64,
}

/// One CPU sample (ticks) of the server and of the load generator.
#[derive(Clone, Copy)]
pub struct CpuSample {
    server: Option<(u64, u64)>,
    own: Option<u64>,
    at: std::time::Instant,
}

impl CpuProbe {
    /// A probe for `server_pid` (if any), converting with `clk_tck` ticks/s.
    pub fn new(server_pid: Option<String>, clk_tck: u64) -> Self {
        CpuProbe {
            server_pid,
            clk_tck: clk_tck.max(1),
        }
    }

    /// Takes a sample now. Several servers (`--server-pid 1,2`) count as one: their CPU is summed.
    pub fn sample(&self) -> CpuSample {
        CpuSample {
            server: self.server_pid.as_deref().and_then(|pids| {
                pids.split(',').try_fold((0, 0), |(u, s), pid| {
                    cpu_ticks_split(pid).map(|(pu, ps)| (u + pu, s + ps))
                })
            }),
            own: cpu_ticks("self"),
            at: std::time::Instant::now(),
        }
    }

    /// Server RSS in KiB now (summed over several servers), if a server pid is known.
    pub fn server_rss_kib(&self) -> Option<u64> {
        self.server_pid
            .as_deref()
            .and_then(|pids| pids.split(',').map(rss_kib).sum())
    }

    /// JSON describing the CPU used between two samples: server CPU µs,
    /// server and load-generator utilisation in percent of one core.
    pub fn window(&self, a: CpuSample, b: CpuSample) -> serde_json::Value {
        let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
        let us = |x: Option<u64>, y: Option<u64>| match (x, y) {
            (Some(x), Some(y)) => Some(y.saturating_sub(x) * 1_000_000 / self.clk_tck),
            _ => None,
        };
        let user_us = us(a.server.map(|x| x.0), b.server.map(|x| x.0));
        let sys_us = us(a.server.map(|x| x.1), b.server.map(|x| x.1));
        let server_us = user_us.zip(sys_us).map(|(u, s)| u + s);
        let own_us = us(a.own, b.own);
        let pct = |v: Option<u64>| v.map(|v| (v as f64 / secs / 1e4 * 10.0).round() / 10.0);
        serde_json::json!({
            "window_secs": (secs * 1000.0).round() / 1000.0,
            "server_cpu_us": server_us,
            "server_user_us": user_us,
            "server_sys_us": sys_us,
            "server_cpu_pct": pct(server_us),
            "loadgen_cpu_pct": pct(own_us),
        })
    }
}
