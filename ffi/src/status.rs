//! Errors at the boundary: one `ferrio_status` for every fallible call, the last error's message per
//! thread, and the guard that keeps panics from unwinding into C.
//!
//! `ferrio_status` is the core's [`ErrorCode`] spelled for cbindgen: the same names and numbers, checked
//! by `every_error_code_is_a_status_of_the_same_name_and_number` (tests.rs); its descriptions are the
//! core's. Every core error becomes a status through its code ([`CodedError`]), never through a map
//! of its own.

use ferrio_core::{CodedError, ErrorCode};
use std::cell::RefCell;
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

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

impl ferrio_status {
    /// The status of a core error code; `None` for a code newer than this enum (the test over
    /// [`ErrorCode::ALL`] makes sure there is none).
    pub(crate) fn from_code(code: ErrorCode) -> Option<ferrio_status> {
        Some(match code {
            ErrorCode::Ok => ferrio_status::Ok,
            ErrorCode::NullArgument => ferrio_status::NullArgument,
            ErrorCode::InvalidUtf8 => ferrio_status::InvalidUtf8,
            ErrorCode::InvalidJson => ferrio_status::InvalidJson,
            ErrorCode::InvalidArgument => ferrio_status::InvalidArgument,
            ErrorCode::InvalidState => ferrio_status::InvalidState,
            ErrorCode::BufferTooSmall => ferrio_status::BufferTooSmall,
            ErrorCode::AlreadyUsed => ferrio_status::AlreadyUsed,
            ErrorCode::ServerGone => ferrio_status::ServerGone,
            ErrorCode::WouldDeadlock => ferrio_status::WouldDeadlock,
            ErrorCode::SocketClosed => ferrio_status::SocketClosed,
            ErrorCode::QueueFull => ferrio_status::QueueFull,
            ErrorCode::ReservedEvent => ferrio_status::ReservedEvent,
            ErrorCode::Timeout => ferrio_status::Timeout,
            ErrorCode::Disconnected => ferrio_status::Disconnected,
            ErrorCode::AdapterError => ferrio_status::AdapterError,
            ErrorCode::IoError => ferrio_status::IoError,
            ErrorCode::Panic => ferrio_status::Panic,
            ErrorCode::LimitExceeded => ferrio_status::LimitExceeded,
            _ => return None,
        })
    }
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

    /// The same error, its message prefixed with what the caller was doing.
    pub(crate) fn context(self, what: &str) -> Error {
        Error {
            status: self.status,
            message: format!("{what}: {}", self.message),
        }
    }

    /// Stores the message as this thread's last error and returns the status.
    pub(crate) fn record(self) -> ferrio_status {
        let status = self.status;
        LAST_ERROR.with(|last| *last.borrow_mut() = self.message);
        status
    }
}

/// Every error of the core, through its code: the one mapping from core errors to statuses.
impl<E: CodedError> From<E> for Error {
    fn from(error: E) -> Error {
        // A code this library does not know yet cannot happen (see `ferrio_status::from_code`); were it
        // to, it is ferrio's bug.
        let status = ferrio_status::from_code(error.code()).unwrap_or(ferrio_status::Panic);
        Error::new(status, error.to_string())
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

/// A static, NUL-terminated description of a status: the core's [`ErrorCode::description`], made C
/// strings once.
pub(crate) fn status_text(status: u32) -> &'static std::ffi::CStr {
    static TEXTS: OnceLock<Vec<CString>> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        ErrorCode::ALL
            .iter()
            .map(|code| CString::new(code.description()).unwrap_or_default())
            .collect()
    });
    match texts.get(status as usize) {
        Some(text) => text.as_c_str(),
        None => c"unknown status",
    }
}
