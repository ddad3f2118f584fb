//! The handshake request as python-socketio's WSGI-style `environ` dict.

use ferrio::Socket;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The WSGI-style `environ` python-socketio hands to `connect` handlers, from the handshake request.
pub(crate) fn environ<'py>(py: Python<'py>, socket: &Socket) -> PyResult<Bound<'py, PyDict>> {
    let request = socket.request();
    let env = PyDict::new(py);
    env.set_item("REQUEST_METHOD", "GET")?;
    env.set_item("PATH_INFO", request.uri.path())?;
    env.set_item("QUERY_STRING", request.uri.query().unwrap_or(""))?;
    env.set_item("RAW_URI", request.uri.to_string())?;
    env.set_item("SERVER_PROTOCOL", "HTTP/1.1")?;
    env.set_item("REMOTE_ADDR", request.remote_addr.ip().to_string())?;
    env.set_item("REMOTE_PORT", request.remote_addr.port().to_string())?;
    env.set_item(
        "wsgi.url_scheme",
        if request.secure { "https" } else { "http" },
    )?;
    for name in request.headers.keys() {
        let value = request
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(",");
        let key = name.as_str().to_ascii_uppercase().replace('-', "_");
        match key.as_str() {
            "CONTENT_TYPE" | "CONTENT_LENGTH" => env.set_item(key, value)?,
            _ => env.set_item(format!("HTTP_{key}"), value)?,
        }
    }
    let issued = request
        .issued
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    env.set_item("ferrio.issued", issued)?;
    env.set_item("ferrio.transport", socket.transport().as_str())?;
    Ok(env)
}
