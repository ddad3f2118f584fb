//! The one mapping from the core's error codes to the `err.code` strings of the facade's `FerrioError`s
//! (`ERR_FERRIO_…`). Every core error reaches JavaScript through it, thrown or rejected as
//! `"ERR_FERRIO_X: message"` (see [`coded_error`]); `test/errors.test.mjs` reads the table
//! ([`error_codes`]) and proves every code has a string.
//!
//! Two codes are finer in JavaScript than the core's: the two limits an emit can exceed
//! ([`ErrorCode::LimitExceeded`]) keep the codes they had before the table existed,
//! `ERR_FERRIO_TOO_DEEP` (`maxJsonDepth`) and `ERR_FERRIO_TOO_MANY_ACKS` (`maxPendingAcks`).

use crate::coded_error;
use ferrio::{AckError, CodedError, EmitError, ErrorCode};
use napi_derive::napi;

/// The `err.code` of each core code; `None` for `Ok` (no error) and for a code newer than this table
/// (which the test catches).
pub(crate) fn js_code(code: ErrorCode) -> Option<&'static str> {
    Some(match code {
        ErrorCode::Ok => return None,
        ErrorCode::NullArgument => "ERR_FERRIO_NULL_ARGUMENT",
        ErrorCode::InvalidUtf8 => "ERR_FERRIO_INVALID_UTF8",
        ErrorCode::InvalidJson => "ERR_FERRIO_INVALID_ARGS",
        ErrorCode::InvalidArgument => "ERR_FERRIO_INVALID_ARG",
        ErrorCode::InvalidState => "ERR_FERRIO_INVALID_STATE",
        ErrorCode::BufferTooSmall => "ERR_FERRIO_BUFFER_TOO_SMALL",
        ErrorCode::AlreadyUsed => "ERR_FERRIO_ALREADY_USED",
        ErrorCode::ServerGone => "ERR_FERRIO_SERVER_CLOSED",
        ErrorCode::WouldDeadlock => "ERR_FERRIO_WOULD_DEADLOCK",
        // An ack asked of a socket that is gone fails as one that leaves before answering.
        ErrorCode::SocketClosed | ErrorCode::Disconnected => "ERR_FERRIO_DISCONNECTED",
        ErrorCode::QueueFull => "ERR_FERRIO_EMIT",
        ErrorCode::ReservedEvent => "ERR_FERRIO_RESERVED_EVENT",
        ErrorCode::Timeout => "ERR_FERRIO_ACK_TIMEOUT",
        ErrorCode::AdapterError => "ERR_FERRIO_ADAPTER",
        ErrorCode::IoError => "ERR_FERRIO_IO",
        ErrorCode::Panic => "ERR_FERRIO_INTERNAL",
        ErrorCode::LimitExceeded => "ERR_FERRIO_LIMIT_EXCEEDED",
        _ => return None,
    })
}

/// The `err.code` to throw for `code` (`ERR_FERRIO_INTERNAL` for a code the table does not know).
fn js_code_or_internal(code: ErrorCode) -> &'static str {
    js_code(code).unwrap_or("ERR_FERRIO_INTERNAL")
}

/// One row of [`error_codes`].
#[napi(object)]
pub struct ErrorCodeEntry {
    /// The code's number (the C ABI's `ferrio_status`).
    pub value: u32,
    /// The code's name, e.g. `LimitExceeded`.
    pub name: String,
    /// The `err.code` of errors with this code; absent for `Ok`.
    pub code: Option<String>,
    /// Finer `err.code`s some errors of this code have instead (the limits an emit can exceed).
    pub refined: Vec<String>,
}

/// Every core error code and the `err.code` it becomes in JavaScript.
#[napi]
pub fn error_codes() -> Vec<ErrorCodeEntry> {
    ErrorCode::ALL
        .iter()
        .map(|&code| ErrorCodeEntry {
            value: code as u32,
            name: code.name().to_owned(),
            code: js_code(code).map(str::to_owned),
            refined: match code {
                ErrorCode::LimitExceeded => [EmitError::TooDeep, EmitError::TooManyPendingAcks]
                    .iter()
                    .map(|error| emit_error(error).0.to_owned())
                    .collect(),
                _ => Vec::new(),
            },
        })
        .collect()
}

/// A core error with this code and message, as the facade turns it into a `FerrioError`.
pub(crate) fn code_error(code: ErrorCode, message: impl std::fmt::Display) -> napi::Error {
    coded_error(js_code_or_internal(code), message)
}

/// A core error, as the facade turns it into a `FerrioError`.
pub(crate) fn js_error(error: &impl CodedError) -> napi::Error {
    code_error(error.code(), error)
}

/// The calls made after `close()`.
pub(crate) fn server_closed() -> napi::Error {
    code_error(ErrorCode::ServerGone, "the server is closed")
}

/// The `err.code` and message of an emit's error: the limits are named as the facade's options are.
fn emit_error(error: &EmitError) -> (&'static str, String) {
    match error {
        EmitError::TooDeep => (
            "ERR_FERRIO_TOO_DEEP",
            "the arguments nest deeper than maxJsonDepth allows".to_owned(),
        ),
        EmitError::TooManyPendingAcks => (
            "ERR_FERRIO_TOO_MANY_ACKS",
            "too many acknowledgements are pending on this socket (maxPendingAcks)".to_owned(),
        ),
        other => (js_code_or_internal(other.code()), other.to_string()),
    }
}

/// An emit that failed, thrown.
pub(crate) fn emit_js_error(error: &EmitError) -> napi::Error {
    let (code, message) = emit_error(error);
    coded_error(code, message)
}

/// An acknowledgement that did not come, rejected.
pub(crate) fn ack_js_error(error: &AckError) -> napi::Error {
    match error {
        AckError::Emit(emit) => emit_js_error(emit),
        other => js_error(other),
    }
}

/// The result of a synchronous emit: what socket.io ignores (an emit to a socket that is gone, or whose
/// queue was full and which was disconnected for it) is not an error here either.
pub(crate) fn emitted(result: Result<(), EmitError>) -> napi::Result<()> {
    match result {
        Ok(()) | Err(EmitError::Closed) | Err(EmitError::Full) => Ok(()),
        Err(error) => Err(emit_js_error(&error)),
    }
}
