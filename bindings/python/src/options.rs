//! `AsyncServer`'s options in the core's terms: converted here (seconds to durations, the CORS list),
//! checked by the core alone (`ServerBuilder::validate`/`build`), whose `ConfigError` is raised as an
//! `InvalidArgumentError` (a `ValueError`) naming the option as python-socketio spells it.

use crate::errors::code_error;
use ferrio::{
    CodedError, ConfigError, ConnectionStateRecovery, Cors, CorsOrigins, ErrorCode,
    HttpCompression, RateLimit, Server, ServerBuilder,
};
use pyo3::prelude::*;
use std::time::Duration;

/// A number of seconds as a duration: negative, infinite and NaN values have none.
pub(crate) fn seconds(py: Python<'_>, value: f64, option: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        code_error(
            py,
            ErrorCode::InvalidArgument,
            format!("{option} must be a non-negative number of seconds"),
        )
    })
}

/// The name `AsyncServer` (or `start`) gives a `ServerBuilder` option.
fn python_option(option: &str) -> &str {
    match option {
        "max_payload" => "max_http_buffer_size",
        "path" => "socketio_path",
        "cors" => "cors_allowed_origins",
        "max_disconnection_duration" => "connection_state_recovery['max_disconnection_duration']",
        "max_stored_packets" => "connection_state_recovery['max_stored_packets']",
        other => other,
    }
}

/// The core's refusal of an option, as `AsyncServer` users name it.
pub(crate) fn config_error(py: Python<'_>, error: ConfigError) -> PyErr {
    code_error(
        py,
        error.code(),
        format!("{} {}", python_option(error.option), error.reason),
    )
}

/// The engine's limits, as `AsyncServer` passes them (None: the core's default).
#[derive(FromPyObject, Default)]
#[pyo3(from_item_all)]
pub(crate) struct Limits {
    upgrade_timeout: Option<f64>,
    allow_upgrades: Option<bool>,
    max_queued_packets: Option<usize>,
    max_attachments: Option<usize>,
    max_json_depth: Option<usize>,
    max_headers: Option<usize>,
    max_header_bytes: Option<usize>,
    header_read_timeout: Option<f64>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    max_namespaces_per_connection: Option<usize>,
    max_pending_acks: Option<usize>,
    rate_limit: Option<(f64, u32)>,
}

/// Connection state recovery's options, as `AsyncServer(connection_state_recovery=...)` passes them
/// (None: the core's default).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub(crate) struct Recovery {
    max_disconnection_duration: Option<f64>,
    skip_middlewares: Option<bool>,
    max_stored_packets: Option<usize>,
}

impl Recovery {
    /// The core's options; values are converted, not checked.
    fn options(self, py: Python<'_>) -> PyResult<ConnectionStateRecovery> {
        let mut r = ConnectionStateRecovery::new();
        if let Some(v) = self.max_disconnection_duration {
            let option = "connection_state_recovery['max_disconnection_duration']";
            r = r.max_disconnection_duration(seconds(py, v, option)?);
        }
        if let Some(v) = self.skip_middlewares {
            r = r.skip_middlewares(v);
        }
        if let Some(v) = self.max_stored_packets {
            r = r.max_stored_packets(v);
        }
        Ok(r)
    }
}

/// The server options `AsyncServer(...)` takes (seconds for durations), as it passes them to
/// `check_options` and `NativeServer`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub(crate) struct EngineOptions {
    ping_interval: f64,
    ping_timeout: f64,
    pub(crate) max_payload: usize,
    polling: bool,
    websocket: bool,
    cors_origins: Option<Vec<String>>,
    cors_credentials: bool,
    connect_timeout: f64,
    limits: Option<Limits>,
    recovery: Option<Recovery>,
    /// The smallest long-polling response compressed, in bytes (`compression_threshold`); None when
    /// `http_compression` is off.
    http_compression: Option<usize>,
}

impl EngineOptions {
    /// A builder with these options and the engine path; values are converted, not checked.
    pub(crate) fn builder(self, py: Python<'_>, path: String) -> PyResult<ServerBuilder> {
        let origins = match self.cors_origins {
            None => CorsOrigins::Disabled,
            Some(list) if list.iter().any(|o| o == "*") => CorsOrigins::Any,
            Some(list) => CorsOrigins::List(list),
        };
        let mut b = Server::builder()
            .path(path)
            .ping_interval(seconds(py, self.ping_interval, "ping_interval")?)
            .ping_timeout(seconds(py, self.ping_timeout, "ping_timeout")?)
            .connect_timeout(seconds(py, self.connect_timeout, "connect_timeout")?)
            .max_payload(self.max_payload)
            .transports(self.polling, self.websocket)
            .cors(Cors::new(origins).credentials(self.cors_credentials));
        let compression = self
            .http_compression
            .map(|threshold| HttpCompression::new().threshold(threshold));
        b = b.http_compression(compression);
        if let Some(recovery) = self.recovery {
            b = b.connection_state_recovery(recovery.options(py)?);
        }
        let Some(limits) = self.limits else {
            return Ok(b);
        };
        if let Some(v) = limits.upgrade_timeout {
            b = b.upgrade_timeout(seconds(py, v, "upgrade_timeout")?);
        }
        if let Some(v) = limits.allow_upgrades {
            b = b.allow_upgrades(v);
        }
        if let Some(v) = limits.max_queued_packets {
            b = b.max_queued_packets(v);
        }
        if let Some(v) = limits.max_attachments {
            b = b.max_attachments(v);
        }
        if let Some(v) = limits.max_json_depth {
            b = b.max_json_depth(v);
        }
        if let Some(v) = limits.max_headers {
            b = b.max_headers(v);
        }
        if let Some(v) = limits.max_header_bytes {
            b = b.max_header_bytes(v);
        }
        if let Some(v) = limits.header_read_timeout {
            b = b.header_read_timeout(seconds(py, v, "header_read_timeout")?);
        }
        if let Some(v) = limits.max_connections {
            b = b.max_connections(v);
        }
        if let Some(v) = limits.max_connections_per_ip {
            b = b.max_connections_per_ip(v);
        }
        if let Some(v) = limits.max_namespaces_per_connection {
            b = b.max_namespaces_per_connection(v);
        }
        if let Some(v) = limits.max_pending_acks {
            b = b.max_pending_acks(v);
        }
        if let Some((rate, burst)) = limits.rate_limit {
            let limit =
                RateLimit::new(rate, burst).map_err(|e| config_error(py, ConfigError::from(e)))?;
            b = b.rate_limit(limit);
        }
        Ok(b)
    }
}

/// Checks `AsyncServer`'s options as the server will when it starts, so that a bad one raises where it
/// was written: an `InvalidArgumentError` (a `ValueError`) naming it.
#[pyfunction]
pub(crate) fn check_options(py: Python<'_>, options: EngineOptions) -> PyResult<()> {
    options
        .builder(py, "/socket.io/".to_owned())?
        .validate()
        .map_err(|e| config_error(py, e))
}
