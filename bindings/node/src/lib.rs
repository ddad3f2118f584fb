//! The native half of ferrio's Node.js binding. It stays small on purpose: the socket.io-shaped API, the
//! handler maps and the payload conversion (placeholders ⇄ Buffers) live in the JavaScript facade
//! (`index.js`); this crate owns the tokio runtime and the core [`ferrio::Server`], and feeds everything
//! the core reports (middlewares, connections, events, disconnects, room changes) through **one**
//! ThreadsafeFunction per server to one JavaScript dispatcher. The hand-off itself is the host layer all
//! bindings share (`ferrio-host`): its runtime policy, its core handlers producing typed `HostEvent`s, its
//! batch queue (one ThreadsafeFunction call and one dispatcher call per batch) and its reply slots
//! (`Verdict`, `Tokens`); `dispatch.rs` only converts the events into JavaScript values. Tokio workers
//! only enqueue: they never wait for JavaScript (answers that JavaScript owes, such as a middleware's
//! verdict, come back through the host layer's slots).
//!
//! Errors are thrown (synchronous calls) or rejected (promises) with a message that starts with a stable
//! code (`ERR_FERRIO_…: text`), which the facade turns into a `FerrioError` with that `code`; the codes of
//! the core's errors come from one table (`errors.rs`).

mod dispatch;
mod errors;
mod namespace;
mod server;

pub use dispatch::{event_kinds, room_changes, Batch, ITEM_FIELDS};
pub use errors::{error_codes, ErrorCodeEntry};
pub use namespace::{AckReply, BroadcastAckResult, NativeNamespace};
pub use server::{NativeOptions, NativeServer};

use std::sync::OnceLock;

static RUNTIME: OnceLock<tokio::runtime::Handle> = OnceLock::new();

/// The runtime every server of this process uses: built once, when the module loads, under the host
/// layer's thread policy (named workers, SIGPIPE blocked, batch scheduling); napi's async glue (the
/// promises of `async fn`s) runs on it too.
pub(crate) fn runtime() -> &'static tokio::runtime::Handle {
    RUNTIME.get_or_init(|| {
        let runtime =
            ferrio_host::runtime::pool("ferrio-node", 0).expect("cannot start the tokio runtime");
        let handle = runtime.handle().clone();
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
        handle
    })
}

#[napi_derive::module_init]
fn init() {
    runtime();
}

/// Builds the error of a rejected promise: the facade reads the code before the first `": "`.
pub(crate) fn coded_error(code: &str, message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, format!("{code}: {message}"))
}
