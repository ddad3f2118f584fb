//! The one list of error codes every binding reports ([`ErrorCode`]), the trait through which each error
//! of the core gives its code ([`CodedError`]), and [`ConfigError`], what
//! [`ServerBuilder::build`](crate::ServerBuilder::build) refuses. A leaf of the crate: every layer's
//! errors map onto these codes.
//!
//! The bindings never number or name errors on their own: the C `ferrio_status`, the Node `err.code`
//! strings and the Python exception classes are each a table over [`ErrorCode::ALL`], and each binding
//! has a test proving its table covers every code.

use std::time::Duration;

/// Declares [`ErrorCode`] and everything derived from its one list (numbers, names, descriptions,
/// `ALL`), so that none of them can miss a variant (the model is rustls-ffi's `u32_enum_builder!`).
macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $name:ident = $value:literal, $text:literal; )*) => {
        /// What went wrong, as every binding reports it: a stable name and a stable number. The numbers are
        /// the C ABI's `ferrio_status` values, so they never change; new codes are added at the end.
        #[repr(u32)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $name = $value, )*
        }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$name, )* ];

            /// The code's stable name, as the variant is spelled (`"LimitExceeded"`).
            pub fn name(self) -> &'static str {
                match self {
                    $( ErrorCode::$name => stringify!($name), )*
                }
            }

            /// A short description (C's `ferrio_status_str`).
            pub fn description(self) -> &'static str {
                match self {
                    $( ErrorCode::$name => $text, )*
                }
            }

            /// The code with this number, if there is one.
            pub fn from_u32(value: u32) -> Option<ErrorCode> {
                match value {
                    $( $value => Some(ErrorCode::$name), )*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// Success (C functions return it; it is never the code of an error).
    Ok = 0, "ok";
    /// A required pointer argument was NULL (C only).
    NullArgument = 1, "a required pointer argument was NULL";
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 2, "a string argument is not valid UTF-8";
    /// A JSON argument does not parse, or is not of the expected shape (an array of arguments).
    InvalidJson = 3, "a JSON argument is invalid";
    /// An argument or an option is out of range or not valid for this call.
    InvalidArgument = 4, "an argument is invalid";
    /// The call is not allowed in the object's current state.
    InvalidState = 5, "the call is not allowed in the current state";
    /// The caller's buffer is too small (C only).
    BufferTooSmall = 6, "the buffer is too small";
    /// An ack or connect request was already answered or released.
    AlreadyUsed = 7, "the ack or connect request was already used";
    /// The server was closed or freed.
    ServerGone = 8, "the server was freed";
    /// The call would deadlock from inside a callback; nothing was done.
    WouldDeadlock = 9, "the call would deadlock from inside a callback";
    /// The socket is disconnected.
    SocketClosed = 10, "the socket is disconnected";
    /// The client's outgoing queue was full: it was disconnected as a slow consumer.
    QueueFull = 11, "the client's outgoing queue is full";
    /// The event name is reserved by socket.io (`connect`, `disconnect`, …).
    ReservedEvent = 12, "the event name is reserved";
    /// An acknowledgement did not come in time.
    Timeout = 13, "operation has timed out";
    /// The socket disconnected before acknowledging.
    Disconnected = 14, "the socket disconnected before acknowledging";
    /// The adapter failed.
    AdapterError = 15, "the adapter failed";
    /// An I/O error, e.g. the address could not be bound.
    IoError = 16, "I/O error";
    /// A bug in ferrio (a caught panic).
    Panic = 17, "internal error (panic)";
    /// A configured limit refused the call (`max_json_depth`, `max_pending_acks`); nothing was sent.
    LimitExceeded = 18, "a configured limit was exceeded";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An error of the core that knows its [`ErrorCode`]: what the bindings translate, each through its one
/// table.
pub trait CodedError: std::error::Error {
    /// The code every binding reports this error with.
    fn code(&self) -> ErrorCode;
}

/// A server option out of range, refused by [`ServerBuilder::build`](crate::ServerBuilder::build): which
/// option (its `ServerBuilder` name) and why. Displayed as `"<option> <reason>"`, e.g.
/// `"max_payload must be at least 1"`; a binding that names the option otherwise rewrites `option`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option} {reason}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The option, as the `ServerBuilder` method setting it is named (`"max_payload"`).
    pub option: &'static str,
    /// Why its value is refused, a phrase following the option's name (`"must be at least 1"`).
    pub reason: String,
}

impl ConfigError {
    /// `option` is refused because of `reason`.
    pub fn new(option: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            option,
            reason: reason.into(),
        }
    }
}

/// For `main() -> std::io::Result<()>` programs, where `listen` errors are `io::Error`s too: an
/// [`InvalidInput`](std::io::ErrorKind::InvalidInput) error with the same message.
impl From<ConfigError> for std::io::Error {
    fn from(error: ConfigError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, error)
    }
}

impl CodedError for ConfigError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidArgument
    }
}

/// The longest duration option, about 12 days: two of them added (the socket.io client waits
/// `ping_interval + ping_timeout` with one `setTimeout`) still fit the 2^31 − 1 ms a JavaScript timer
/// can wait, and no deadline computed from one can overflow.
pub(crate) const MAX_DURATION: Duration = Duration::from_millis((1 << 30) - 1);

/// Checks a duration option: at least 1 ms (the protocol counts in milliseconds), at most
/// [`MAX_DURATION`].
pub(crate) fn check_duration(option: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        Err(ConfigError::new(option, "must be positive"))
    } else if value < Duration::from_millis(1) {
        Err(ConfigError::new(option, "must be at least 1 ms"))
    } else if value > MAX_DURATION {
        Err(ConfigError::new(
            option,
            format!(
                "must be at most {} ms (about 12 days)",
                MAX_DURATION.as_millis()
            ),
        ))
    } else {
        Ok(())
    }
}

/// Checks a count option against its minimum.
pub(crate) fn check_at_least(
    option: &'static str,
    value: usize,
    minimum: usize,
) -> Result<(), ConfigError> {
    if value < minimum {
        return Err(ConfigError::new(
            option,
            format!("must be at least {minimum}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_are_numbered_in_order_and_round_trip() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as u32, i as u32, "{code} is out of place");
            assert_eq!(ErrorCode::from_u32(i as u32), Some(*code));
            assert!(!code.description().is_empty());
        }
        assert_eq!(ErrorCode::from_u32(ErrorCode::ALL.len() as u32), None);
        assert_eq!(ErrorCode::LimitExceeded as u32, 18);
        assert_eq!(ErrorCode::LimitExceeded.name(), "LimitExceeded");
    }

    #[test]
    fn a_config_error_names_its_option() {
        let error = ConfigError::new("max_payload", "must be at least 1");
        assert_eq!(error.to_string(), "max_payload must be at least 1");
        assert_eq!(error.code(), ErrorCode::InvalidArgument);
    }
}
