//! `ferrio-loadgen`: end-to-end load generator for Socket.IO v5 servers
//! (ferrio and the official socket.io baseline).
//!
//! Subcommands: `idle`, `echo`, `broadcast` (see `bench/README.md`) and
//! `report`, which turns the raw JSON outputs of `bench/run.sh` into
//! `bench/RESULTS.md`.

mod args;
mod broadcast;
mod broadcast_window;
mod echo;
mod eio;
mod hist;
mod idle;
mod procfs;
mod report;

use std::process::ExitCode;

const USAGE: &str = "usage:
  ferrio-loadgen idle      --url U --conns N [--hold-secs S] [--concurrency C]
  ferrio-loadgen echo      --url U --conns C --pipeline P --secs S [--warmup-secs W]
  ferrio-loadgen broadcast --url U --clients N --rate R --secs S [--warmup-secs W] [--drain-secs D]
  ferrio-loadgen broadcast --url U --clients N --window W --secs S [--warmup-secs W] [--drain-secs D]
  ferrio-loadgen report    --out-dir DIR --results FILE [--date D]
common options: --server-pid PID (CPU/RSS sampling) --clk-tck HZ (default 100)
                --connect-timeout-secs S (default 10)";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = argv.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let args = match args::Args::parse(rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd.as_str() {
        "report" => report::run(&args),
        "idle" | "echo" | "broadcast" => {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            rt.block_on(async {
                match cmd.as_str() {
                    "idle" => idle::run(&args).await,
                    "echo" => echo::run(&args).await,
                    _ => match args.u64("window", 0) {
                        Ok(0) => broadcast::run(&args).await,
                        Ok(window) => broadcast_window::run(&args, window).await,
                        Err(e) => Err(e),
                    },
                }
            })
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown subcommand {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
