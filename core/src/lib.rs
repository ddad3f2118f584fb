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
//!     let io = Server::builder().build();
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
//! ## Cargo features
//!
//! - `redis` (off by default): the Redis adapter, [`adapter::RedisAdapterFactory`], with which many
//!   ferrio processes — and official Node socket.io servers using `@socket.io/redis-adapter` — act as one
//!   server. Items that need a feature say so in these docs.

// On docs.rs (`--cfg docsrs`, see [package.metadata.docs.rs]) items gated by a feature are marked so.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapter;
pub mod admin;
pub mod engineio;
pub mod http;
pub mod socketio;

pub use adapter::{Adapter, AdapterFactory, MemoryAdapter, Room};
pub use engineio::{CloseReason, Cors, CorsOrigins, Sid, TransportKind};
pub use socketio::{
    AckError, AckSender, BroadcastOperator, ConnectError, DisconnectReason, EmitError, Event,
    InvalidRateLimit, Namespace, Payload, RateLimit, Server, ServerBuilder, ServerConfig,
    ServerHandle, Socket,
};

/// The README's Rust example, compiled as a doc test so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
