//! The one mapping from the core's error codes to the classes of the pure-Python `ferrio.exceptions`
//! module. Every core error reaches Python through its [`ErrorCode`]; the table is exported as
//! `_native.ERROR_CLASSES` and `tests/test_errors.py` proves every code has a class that exists and is a
//! `FerrioError`.

use ferrio::{CodedError, ErrorCode};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// The `ferrio.exceptions` class of each code; `None` for `Ok` (no error) and for a code newer than this
/// table (which the test catches).
pub(crate) fn exception_class(code: ErrorCode) -> Option<&'static str> {
    Some(match code {
        ErrorCode::Ok => return None,
        // Misuses only the C ABI can make, and bugs: the base class.
        ErrorCode::NullArgument
        | ErrorCode::InvalidUtf8
        | ErrorCode::InvalidState
        | ErrorCode::BufferTooSmall
        | ErrorCode::AlreadyUsed
        | ErrorCode::WouldDeadlock
        | ErrorCode::Panic => "FerrioError",
        ErrorCode::InvalidJson | ErrorCode::InvalidArgument => "InvalidArgumentError",
        ErrorCode::ServerGone => "ServerClosedError",
        ErrorCode::SocketClosed | ErrorCode::QueueFull | ErrorCode::LimitExceeded => "EmitError",
        ErrorCode::ReservedEvent => "ReservedEventError",
        ErrorCode::Timeout => "AckTimeoutError",
        ErrorCode::Disconnected => "DisconnectedError",
        ErrorCode::AdapterError => "AdapterError",
        ErrorCode::IoError => "ListenError",
        _ => return None,
    })
}

/// `(number, name, class)` for every code: what `_native.ERROR_CLASSES` holds.
pub(crate) fn table() -> Vec<(u32, &'static str, Option<&'static str>)> {
    ErrorCode::ALL
        .iter()
        .map(|&code| (code as u32, code.name(), exception_class(code)))
        .collect()
}

/// The class name to raise for `code` (the base class for a code the table does not know).
pub(crate) fn class_name(code: ErrorCode) -> &'static str {
    exception_class(code).unwrap_or("FerrioError")
}

/// An exception of the pure-Python `ferrio.exceptions` module, by class name: for the binding's own
/// errors (an unknown sid or namespace), which no core code describes.
pub(crate) fn ferrio_error(py: Python<'_>, class: &str, message: String) -> PyErr {
    let class = py
        .import("ferrio.exceptions")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match class {
        Ok(class) => PyErr::from_type(class, message),
        Err(e) => e,
    }
}

/// The exception of an error code, with this message.
pub(crate) fn code_error(py: Python<'_>, code: ErrorCode, message: String) -> PyErr {
    ferrio_error(py, class_name(code), message)
}

/// The exception of a core error: its code's class, its message.
pub(crate) fn coded_error(py: Python<'_>, error: &impl CodedError) -> PyErr {
    code_error(py, error.code(), error.to_string())
}
