//! Errors at the boundary: one `ferrio_status` for every fallible call, the last error's message per
//! thread, and the guard that keeps panics from unwinding into C.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The result of every fallible call. `FERRIO_STATUS_OK` is 0; every other value is an error whose
/// details `ferrio_last_error` returns on the same thread. New values may be added at the end.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferrio_status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 2,
    /// A JSON argument does not parse, or is not of the expected shape (an array of arguments).
    InvalidJson = 3,
    /// An argument is out of range or not valid for this call.
    InvalidArgument = 4,
    /// The call is not allowed in the object's current state (listening twice, dispatching in
    /// automatic mode, registering on a dynamic namespace's child…).
    InvalidState = 5,
    /// The caller's buffer is too small: `*written` holds the size needed, terminator included.
    BufferTooSmall = 6,
    /// An ack or connect request was already answered or released (or its server was freed).
    AlreadyUsed = 7,
    /// The server was freed (detected through a handle that outlived it).
    ServerGone = 8,
    /// The call would deadlock from inside a callback (e.g. `ferrio_server_free` on the callback
    /// thread); nothing was done.
    WouldDeadlock = 9,
    /// The socket is disconnected.
    SocketClosed = 10,
    /// The client's outgoing queue was full: it was disconnected as a slow consumer.
    QueueFull = 11,
    /// The event name is reserved by socket.io (`connect`, `disconnect`, …).
    ReservedEvent = 12,
    /// An acknowledgement did not come in time.
    Timeout = 13,
    /// The socket disconnected before acknowledging.
    Disconnected = 14,
    /// The adapter failed.
    AdapterError = 15,
    /// An I/O error, e.g. the address could not be bound.
    IoError = 16,
    /// A bug in ferrio (a caught panic); the message says where.
    Panic = 17,
    /// A configured limit refused the call: the arguments nest deeper than `max_json_depth`, or
    /// `max_pending_acks` acknowledgements are already awaited from the socket. Nothing was sent.
    LimitExceeded = 18,
}

/// An error on its way to C: a status and a message.
#[derive(Debug)]
pub(crate) struct Error {
    pub(crate) status: ferrio_status,
    pub(crate) message: String,
}

impl Error {
    pub(crate) fn new(status: ferrio_status, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn null(what: &str) -> Error {
        Error::new(
            ferrio_status::NullArgument,
            format!("`{what}` must not be NULL"),
        )
    }

    /// Stores the message as this thread's last error and returns the status.
    pub(crate) fn record(self) -> ferrio_status {
        let status = self.status;
        LAST_ERROR.with(|last| *last.borrow_mut() = self.message);
        status
    }
}

impl From<ferrio_core::EmitError> for Error {
    fn from(error: ferrio_core::EmitError) -> Error {
        use ferrio_core::EmitError;
        let status = match &error {
            EmitError::Full => ferrio_status::QueueFull,
            EmitError::Closed => ferrio_status::SocketClosed,
            EmitError::Reserved(_) => ferrio_status::ReservedEvent,
            EmitError::Adapter(_) => ferrio_status::AdapterError,
            EmitError::TooDeep | EmitError::TooManyPendingAcks => ferrio_status::LimitExceeded,
        };
        Error::new(status, error.to_string())
    }
}

impl From<ferrio_core::AckError> for Error {
    fn from(error: ferrio_core::AckError) -> Error {
        use ferrio_core::AckError;
        match error {
            AckError::Timeout { .. } => Error::new(ferrio_status::Timeout, error.to_string()),
            AckError::Disconnected => Error::new(ferrio_status::Disconnected, error.to_string()),
            AckError::Emit(emit) => emit.into(),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// This thread's last error message (empty when none).
pub(crate) fn last_error() -> String {
    LAST_ERROR.with(|last| last.borrow().clone())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("internal error (panic): {text}")
}

/// Runs the body of a fallible `extern "C"` function: errors and panics become a status.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Error>) -> ferrio_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ferrio_status::Ok,
        Ok(Err(error)) => error.record(),
        Err(payload) => Error::new(ferrio_status::Panic, panic_message(&*payload)).record(),
    }
}

/// Runs the body of an infallible `extern "C"` function (`_free`, getters): a panic is swallowed and
/// `fallback` returned.
pub(crate) fn guard_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let _ = Error::new(ferrio_status::Panic, panic_message(&*payload)).record();
            fallback
        }
    }
}

/// A static, NUL-terminated description of a status.
pub(crate) fn status_text(status: u32) -> &'static std::ffi::CStr {
    match status {
        0 => c"ok",
        1 => c"a required pointer argument was NULL",
        2 => c"a string argument is not valid UTF-8",
        3 => c"a JSON argument is invalid",
        4 => c"an argument is invalid",
        5 => c"the call is not allowed in the current state",
        6 => c"the buffer is too small",
        7 => c"the ack or connect request was already used",
        8 => c"the server was freed",
        9 => c"the call would deadlock from inside a callback",
        10 => c"the socket is disconnected",
        11 => c"the client's outgoing queue is full",
        12 => c"the event name is reserved",
        13 => c"operation has timed out",
        14 => c"the socket disconnected before acknowledging",
        15 => c"the adapter failed",
        16 => c"I/O error",
        17 => c"internal error (panic)",
        18 => c"a configured limit was exceeded",
        _ => c"unknown status",
    }
}
