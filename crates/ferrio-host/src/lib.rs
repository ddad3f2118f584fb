//! The one host layer of ferrio's foreign bindings.
//!
//! The core reports what happens (a socket waits for its middlewares, connects, sends an event, leaves,
//! a room changes) by calling Rust handlers on tokio threads. A foreign language cannot be entered from
//! those threads: C wants its callbacks on one thread in order, Python needs the GIL and its asyncio
//! loop, Node its main thread. Every binding therefore needs the same hand-off, and this crate is that
//! hand-off, written once:
//!
//! - [`event`]: one typed enum of everything a host hears ([`HostEvent`]), with stable kind numbers a
//!   facade reads from Rust instead of retyping them;
//! - [`attach`]: the core handlers that produce those events for a [`Sink`];
//! - [`reply`]: typed slots for what the host answers later (a middleware's [`Verdict`], acks kept under
//!   numeric [`Tokens`]);
//! - [`queue`]: one batch-draining queue whose consumer is woken once per batch, by the wake each
//!   language needs (a thread on a condvar, a pollable fd, or a call such as Node's thread-safe function);
//! - [`runtime`]: one policy for the threads ferrio starts in a host process (named, SIGPIPE blocked,
//!   batch scheduling) and the runtimes built from it.
//!
//! The bindings convert values and nothing more: C views, Python objects, JavaScript values.

pub mod attach;
pub mod event;
pub mod queue;
pub mod reply;
pub mod runtime;

pub use attach::{Sink, Watch};
pub use event::{EventKind, HostEvent};
pub use queue::{BatchQueue, Wake};
pub use reply::{Tokens, Verdict};
