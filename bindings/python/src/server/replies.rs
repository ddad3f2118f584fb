//! The answers Python gives the core, as objects handed to it with the dispatch items: `ConnectReply`
//! (accept or refuse a connecting socket) and `Ack` (a client's acknowledgement request). Each answers
//! once; what it sends keeps to the server's `max_json_depth`, like every conversion of the binding.

use crate::convert::args_to_payload;
use crate::runtime;
use ferrio::{AckSender, ConnectError};
use ferrio_host::Verdict;
use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The answer to one connect request: accept or refuse, once. Dropping it unanswered refuses (with
/// `ferrio_host::reply::CLOSING_MESSAGE`).
#[pyclass(frozen, module = "ferrio._native")]
pub struct ConnectReply {
    verdict: Mutex<Option<Verdict>>,
    /// The server's `max_json_depth`, which a refusal's data keeps to.
    max_json_depth: usize,
}

impl ConnectReply {
    pub(crate) fn new(verdict: Verdict, max_json_depth: usize) -> ConnectReply {
        ConnectReply {
            verdict: Mutex::new(Some(verdict)),
            max_json_depth,
        }
    }
}

#[pymethods]
impl ConnectReply {
    /// Lets the socket in. Returns False if already answered.
    fn accept(&self) -> bool {
        match self.verdict.lock().take() {
            Some(verdict) => {
                verdict.accept();
                true
            }
            None => false,
        }
    }

    /// Refuses with CONNECT_ERROR `{"message": message, "data": data}` (data omitted when None).
    #[pyo3(signature = (message, data=None))]
    fn reject(&self, message: String, data: Option<Bound<'_, PyAny>>) -> PyResult<bool> {
        let data = match data {
            Some(data) if !data.is_none() => {
                let payload = args_to_payload(
                    pyo3::types::PyTuple::new(data.py(), [data])?.as_any(),
                    self.max_json_depth,
                )?;
                Some(
                    payload
                        .first::<serde_json::Value>()
                        .map_err(|e| PyValueError::new_err(e.to_string()))?,
                )
            }
            _ => None,
        };
        Ok(match self.verdict.lock().take() {
            Some(verdict) => {
                verdict.refuse(ConnectError { message, data });
                true
            }
            None => false,
        })
    }
}

/// A client's request for an acknowledgement; answered once with `send`.
#[pyclass(frozen, module = "ferrio._native")]
pub struct Ack {
    inner: Mutex<Option<AckSender>>,
    /// The server's `max_json_depth`, which the answer keeps to.
    max_json_depth: usize,
}

impl Ack {
    pub(crate) fn new(ack: AckSender, max_json_depth: usize) -> Ack {
        Ack {
            inner: Mutex::new(Some(ack)),
            max_json_depth,
        }
    }
}

#[pymethods]
impl Ack {
    /// Sends the acknowledgement with these arguments (a list or tuple). Returns False if it was already
    /// sent or the socket is gone.
    fn send(&self, args: &Bound<'_, PyAny>) -> PyResult<bool> {
        let payload = args_to_payload(args, self.max_json_depth)?;
        let Some(ack) = self.inner.lock().take() else {
            return Ok(false);
        };
        let _guard = runtime().enter();
        Ok(ack.send(payload).is_ok())
    }
}
