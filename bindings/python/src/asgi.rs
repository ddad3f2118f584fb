//! ASGI mode: requests and WebSockets that an ASGI server (uvicorn, hypercorn) received, relayed into the
//! core's HTTP front. HTTP requests go through `HttpService::handle`. A WebSocket is served by the core on
//! one end of an in-memory pipe, with a WebSocket client on the other end that this module drives from
//! the ASGI messages — so every Engine.IO rule stays in the core, at the price of a second framing that
//! only ASGI mode pays.

use crate::dispatch::{Item, Queue, Resolved};
use bytes::Bytes;
use ferrio::ErrorCode;
use ferrio::SocketIoService as HttpService;
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use pyo3::prelude::*;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The most bytes in flight each way in the pipe between the relay and the core (allocated as used).
const PIPE_BYTES: usize = 64 * 1024;
/// Messages read from the core and not yet taken by Python (back-pressure beyond this).
const TO_PYTHON: usize = 64;

/// One message of a relayed WebSocket.
pub(crate) enum RelayMessage {
    Text(String),
    Binary(Bytes),
}

/// Answers one relayed HTTP request.
pub(crate) async fn http(
    service: HttpService,
    request: http::Request<http_body_util::Full<Bytes>>,
    remote: SocketAddr,
) -> Resolved {
    use http_body_util::BodyExt;
    let response = service.handle(request, remote).await;
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    Resolved::Http(parts.status.as_u16(), headers, body)
}

/// Opens a relayed WebSocket: resolves with a [`WsRelay`] once the core answered 101, or with the core's
/// HTTP answer when it refused (unknown sid, transport not allowed, ...).
pub(crate) async fn open(
    service: HttpService,
    queue: Arc<Queue>,
    path_and_query: String,
    headers: Vec<(String, String)>,
    remote: SocketAddr,
    max_payload: usize,
) -> Resolved {
    let (ours, theirs) = tokio::io::duplex(PIPE_BYTES);
    service.adopt(theirs, Bytes::new(), remote);
    let mut request = match format!("ws://ferrio.internal{path_and_query}").into_client_request() {
        Ok(request) => request,
        Err(e) => {
            return Resolved::Error(
                ErrorCode::InvalidArgument,
                format!("bad WebSocket request: {e}"),
            )
        }
    };
    for (name, value) in &headers {
        let skip = matches!(
            name.to_ascii_lowercase().as_str(),
            "host"
                | "connection"
                | "upgrade"
                | "sec-websocket-key"
                | "sec-websocket-version"
                | "sec-websocket-extensions"
                | "content-length"
        );
        if skip {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            request.headers_mut().append(name, value);
        }
    }
    // Small buffers, as the core's own WebSockets have: tungstenite's 128 KiB read buffer is allocated
    // eagerly, per connection.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(2 * 1024)
        .write_buffer_size(16 * 1024)
        .max_message_size(Some(max_payload.saturating_add(16)))
        .max_frame_size(Some(max_payload.saturating_add(16)));
    let ws = match tokio_tungstenite::client_async_with_config(request, ours, Some(config)).await {
        Ok((ws, _)) => ws,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let (parts, body) = response.into_parts();
            let headers = parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect();
            return Resolved::Http(
                parts.status.as_u16(),
                headers,
                body.map(Bytes::from).unwrap_or_default(),
            );
        }
        // The core is in-process: a relay that fails is ferrio's bug.
        Err(e) => return Resolved::Error(ErrorCode::Panic, format!("WebSocket relay failed: {e}")),
    };
    let (mut sink, mut stream) = ws.split();
    let (to_core, mut from_python) = mpsc::unbounded_channel::<Message>();
    let (to_python, from_core) = mpsc::channel::<RelayMessage>(TO_PYTHON);
    tokio::spawn(async move {
        while let Some(message) = from_python.recv().await {
            let closing = message.is_close();
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
        let _ = sink.close().await;
    });
    tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            let item = match message {
                Message::Text(text) => RelayMessage::Text(text.as_str().to_owned()),
                Message::Binary(data) => RelayMessage::Binary(data),
                Message::Close(_) => break,
                _ => continue,
            };
            if to_python.send(item).await.is_err() {
                break;
            }
        }
    });
    Resolved::WebSocket(WsRelay {
        to_core: Mutex::new(Some(to_core)),
        from_core: Arc::new(tokio::sync::Mutex::new(from_core)),
        queue,
    })
}

/// A WebSocket relayed between an ASGI connection and the core.
#[pyclass(frozen, module = "ferrio._native")]
pub struct WsRelay {
    to_core: Mutex<Option<mpsc::UnboundedSender<Message>>>,
    from_core: Arc<tokio::sync::Mutex<mpsc::Receiver<RelayMessage>>>,
    queue: Arc<Queue>,
}

#[pymethods]
impl WsRelay {
    /// Passes a message from the client (str or bytes) to the core. False once the relay is closed.
    fn send(&self, message: &Bound<'_, PyAny>) -> PyResult<bool> {
        let message = if let Ok(text) = message.extract::<String>() {
            Message::text(text)
        } else if let Ok(data) = message.extract::<Vec<u8>>() {
            Message::binary(data)
        } else {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "a WebSocket message is str or bytes",
            ));
        };
        Ok(match &*self.to_core.lock() {
            Some(tx) => tx.send(message).is_ok(),
            None => false,
        })
    }

    /// Resolves `future` with the next message for the client (str or bytes), or None once the core
    /// closed the connection.
    fn recv(&self, future: Py<PyAny>) {
        let from_core = self.from_core.clone();
        let queue = self.queue.clone();
        crate::runtime().spawn(async move {
            let message = from_core.lock().await.recv().await;
            queue.push(Item::Resolve {
                future,
                result: Resolved::WsMessage(message),
            });
        });
    }

    /// The client went away: closes the connection towards the core (which then sees "transport close").
    fn close(&self) {
        if let Some(tx) = self.to_core.lock().take() {
            let _ = tx.send(Message::Close(None));
        }
    }
}
