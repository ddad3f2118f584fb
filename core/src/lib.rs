//! # ferrio
//!
//! A Socket.IO v5 / Engine.IO v4 server engine: the wire protocol exactly as the official socket.io 4.x
//! server speaks it (HTTP long-polling, WebSocket and the upgrade between them, heartbeats, binary
//! attachments), namespaces with middlewares, acknowledgements both ways, rooms and broadcasts, and an
//! adapter interface for multi-process deployments.
//!
//! The Rust API below is a thin layer over the object-safe handler traits of [`socketio`], the same path
//! the C, Python and Node bindings use.
//!
//! ```no_run
//! use ferrio::{Payload, Server};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let io = Server::builder().build()?; // a bad option: an io::Error naming it
//!     io.on_connection(|socket| {
//!         socket.on("echo", |socket, event| async move {
//!             let _ = socket.emit("echo", event.payload);
//!         });
//!     });
//!     let handle = io.listen("127.0.0.1:3000").await?;
//!     tokio::signal::ctrl_c().await?;
//!     handle.shutdown(std::time::Duration::from_secs(5)).await;
//!     Ok(())
//! }
//! ```
//!
//! ## Optional parts
//!
//! The Redis adapter (crate `ferrio-redis`), with which many ferrio processes — and official Node
//! socket.io servers using `@socket.io/redis-adapter` — act as one server, and the admin UI support
//! (crate `ferrio-admin`) are crates of their own, built on this crate's public API.

pub mod adapter;
pub mod engineio;
mod error;
pub mod http;
mod mounts;
mod payload;
mod serve;
pub mod socketio;

pub use adapter::{Adapter, AdapterFactory, MemoryAdapter, Room};
pub use engineio::{CloseReason, Cors, CorsOrigins, HttpCompression, Sid, TransportKind};
pub use error::{CodedError, ConfigError, ErrorCode};
pub use serve::{ServerHandle, SocketIoService};
pub use socketio::{
    AckError, AckSender, BroadcastOperator, ConnectError, ConnectionStateRecovery,
    DisconnectReason, EmitError, Event, InvalidRateLimit, Namespace, Payload, RateLimit, Server,
    ServerBuilder, ServerConfig, Socket,
};

// The decoders are crate-private: the fuzz targets (fuzz/, `make fuzz`) reach them through these entry
// points, compiled only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

/// The README's Rust example, compiled as a doc test so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
