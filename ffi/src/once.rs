//! One-shot handles — acks to answer and connect requests to decide — consumed exactly once, from any
//! thread. A handle is a never-reused number dressed as a pointer, so a second use is always detected
//! (`FERRIO_STATUS_ALREADY_USED`) instead of touching freed memory.

use crate::status::{ferrio_status, guard, Error};
use crate::types::{ferrio_bytes, json_arg, payload_arg, str_arg};
use ferrio_core::socketio::ConnectError;
use ferrio_core::AckSender;
use ferrio_host::Verdict;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::c_char;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

/// An acknowledgement the client asked for. Answer it with `ferrio_ack_send` or drop it with
/// `ferrio_ack_free` — exactly one of the two, once, from any thread.
pub struct ferrio_ack {
    _private: [u8; 0],
}

/// A socket waiting for a connect middleware's decision. Decide with `ferrio_connect_accept` or
/// `ferrio_connect_reject` — exactly one of the two, once, from any thread.
pub struct ferrio_connect_request {
    _private: [u8; 0],
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static ACKS: LazyLock<Mutex<HashMap<u64, (u64, AckSender)>>> = LazyLock::new(Default::default);
static CONNECTS: LazyLock<Mutex<HashMap<u64, (u64, Verdict)>>> = LazyLock::new(Default::default);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn new_ack(server: u64, ack: AckSender) -> *mut ferrio_ack {
    let id = next_id();
    ACKS.lock().insert(id, (server, ack));
    id as usize as *mut ferrio_ack
}

pub(crate) fn new_connect(server: u64, verdict: Verdict) -> *mut ferrio_connect_request {
    let id = next_id();
    CONNECTS.lock().insert(id, (server, verdict));
    id as usize as *mut ferrio_connect_request
}

/// Drops the handles of a freed server (acks unanswered, connects refused).
pub(crate) fn forget_server(server: u64) {
    ACKS.lock().retain(|_, (s, _)| *s != server);
    CONNECTS.lock().retain(|_, (s, _)| *s != server);
}

fn take<T>(map: &Mutex<HashMap<u64, (u64, T)>>, handle: usize, what: &str) -> Result<T, Error> {
    if handle == 0 {
        return Err(Error::null(what));
    }
    let id = handle as u64;
    if let Some((_, value)) = map.lock().remove(&id) {
        return Ok(value);
    }
    if id < NEXT_ID.load(Ordering::Relaxed) {
        Err(Error::new(
            ferrio_status::AlreadyUsed,
            format!("this {what} was already used or released (or its server was freed)"),
        ))
    } else {
        Err(Error::new(
            ferrio_status::InvalidArgument,
            format!("not a {what} handle"),
        ))
    }
}

/// Answers the client's ack with arguments (`json`: the JSON text of an array; NULL/empty means none;
/// attachments as for emits). Consumes the ack whatever the status: afterwards the handle is spent, as
/// after `ferrio_ack_free`, and a second use gives `FERRIO_STATUS_ALREADY_USED`. When the answer cannot
/// be sent — invalid arguments (invalid UTF-8 or JSON, NULL attachments, a limit), or the socket is gone
/// (`FERRIO_STATUS_SOCKET_CLOSED`) — the ack is released unanswered, so check the JSON you build before
/// sending it if the client must get an answer.
#[no_mangle]
pub extern "C" fn ferrio_ack_send(
    ack: *mut ferrio_ack,
    json: *const c_char,
    json_len: usize,
    attachments: *const ferrio_bytes,
    attachment_count: usize,
) -> ferrio_status {
    guard(|| {
        // Taken first, so that every later error leaves it consumed (dropped unanswered).
        let sender = take(&ACKS, ack as usize, "ack")?;
        // SAFETY: argument contract of the header.
        let payload = unsafe { payload_arg(json, json_len, attachments, attachment_count) }?;
        sender.send(payload)?;
        Ok(())
    })
}

/// Releases an ack without answering. A second use gives `FERRIO_STATUS_ALREADY_USED`.
#[no_mangle]
pub extern "C" fn ferrio_ack_free(ack: *mut ferrio_ack) -> ferrio_status {
    guard(|| {
        take(&ACKS, ack as usize, "ack")?;
        Ok(())
    })
}

/// Lets the socket in (the next middleware runs, or it connects).
#[no_mangle]
pub extern "C" fn ferrio_connect_accept(request: *mut ferrio_connect_request) -> ferrio_status {
    guard(|| {
        take(&CONNECTS, request as usize, "connect request")?.accept();
        Ok(())
    })
}

/// Refuses the socket: the client gets a `connect_error` whose `message` is `message` and whose `data`
/// is the JSON value `data_json` (NULL/empty: no data). On an argument error the request stays
/// undecided; a second use gives `FERRIO_STATUS_ALREADY_USED`.
#[no_mangle]
pub extern "C" fn ferrio_connect_reject(
    request: *mut ferrio_connect_request,
    message: *const c_char,
    message_len: usize,
    data_json: *const c_char,
    data_json_len: usize,
) -> ferrio_status {
    guard(|| {
        if request.is_null() {
            return Err(Error::null("request"));
        }
        // SAFETY: argument contract of the header.
        let message = unsafe { str_arg(message, message_len, "message") }?.to_owned();
        // SAFETY: argument contract of the header.
        let data_text = unsafe { str_arg(data_json, data_json_len, "data_json") }?;
        let error = if data_text.trim().is_empty() {
            ConnectError::new(message)
        } else {
            // SAFETY: argument contract of the header.
            let data = unsafe { json_arg(data_json, data_json_len, "data_json") }?;
            ConnectError::with_data(message, data)
        };
        take(&CONNECTS, request as usize, "connect request")?.refuse(error);
        Ok(())
    })
}
