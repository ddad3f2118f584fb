//! `ferrio._native`: the extension module under the pure-Python `ferrio` package.
//!
//! It owns one tokio runtime for the process and, per server, a dispatch thread, both under
//! `ferrio_host`'s thread policy. The core calls the handlers of `ferrio_host::attach` on tokio threads;
//! they only push typed host events onto the server's `ferrio_host::BatchQueue` and return, so tokio
//! threads never wait for the GIL. The dispatch thread waits for batches without the GIL, takes it once per
//! batch, converts the batch to Python objects and hands it to the asyncio loop with one
//! `loop.call_soon_threadsafe` (see `dispatch.rs`). Handler lookup, sessions and the python-socketio
//! compatible API live in Python (`python/ferrio/`); this module is the thin, typed bridge.

mod asgi;
mod convert;
mod dispatch;
mod errors;
mod options;
mod server;

use pyo3::prelude::*;
use std::sync::OnceLock;

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The process-wide runtime (one worker per CPU, named, under the host layer's thread policy), made on
/// first use.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    RUNTIME.get_or_init(|| {
        ferrio_host::runtime::pool("ferrio-worker", 0)
            .unwrap_or_else(|e| panic!("cannot start the ferrio runtime: {e}"))
    })
}

/// Routes the core's `tracing` output to stderr when `FERRIO_LOG` is set (e.g. `FERRIO_LOG=debug`).
fn init_logging() {
    if std::env::var_os("FERRIO_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("FERRIO_LOG"))
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// Checks that `args` (a list or tuple) can be sent by a server with this `max_json_depth` (None: the
/// default), raising what an emit would (`TypeError`, `ValueError`, `EmitError`).
#[pyfunction]
#[pyo3(signature = (args, max_json_depth=None))]
fn validate_args(args: &Bound<'_, PyAny>, max_json_depth: Option<usize>) -> PyResult<()> {
    let depth = max_json_depth.unwrap_or_else(|| ferrio::ServerConfig::default().max_json_depth);
    convert::args_to_payload(args, depth).map(|_| ())
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    init_logging();
    m.add_class::<server::NativeServer>()?;
    m.add_class::<server::Ack>()?;
    m.add_class::<asgi::WsRelay>()?;
    m.add_class::<server::ConnectReply>()?;
    m.add_function(wrap_pyfunction!(validate_args, m)?)?;
    m.add_function(wrap_pyfunction!(options::check_options, m)?)?;
    m.add("ERROR_CLASSES", errors::table())?;
    m.add("EVENT_KINDS", dispatch::kinds(m.py())?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
