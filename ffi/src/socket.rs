//! Sockets for C: the per-socket callback table (looked up on the callback thread, so events that
//! arrive before C registers a handler in its connection callback are still delivered in order), the
//! core handlers that only enqueue, and the socket calls.

use crate::once::{ferrio_ack, new_ack};
use crate::server::Shared;
use crate::status::{ferrio_status, guard, guard_or, Error};
use crate::types::{
    ferrio_bytes, ferrio_payload, ferrio_str, ferrio_user_data_free, handle, json_arg, payload_arg,
    str_arg, terminated, write_out, write_text, Callback, PayloadView, Terminated,
};
use ferrio_core::{DisconnectReason, Event, Payload, Room, Socket};
use rustc_hash::FxHashMap;
use std::ffi::{c_char, c_void};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A socket: one client in one namespace. The pointer handed to a callback is borrowed for that call;
/// keep one with `ferrio_socket_clone` (then `ferrio_socket_free` it).
pub struct ferrio_socket {
    pub(crate) shared: Arc<Shared>,
    pub(crate) socket: Socket,
    /// NUL-terminated copies of the id and the namespace name, made on first request (most callbacks
    /// never ask, and an event's handle is made for every event).
    id: OnceLock<String>,
    nsp: OnceLock<String>,
    auth: OnceLock<String>,
    /// In a `disconnecting` callback: the rooms as they were (the socket is leaving them).
    rooms: Option<Vec<Room>>,
}

impl ferrio_socket {
    pub(crate) fn new(
        shared: Arc<Shared>,
        socket: Socket,
        rooms: Option<Vec<Room>>,
    ) -> ferrio_socket {
        ferrio_socket {
            shared,
            socket,
            id: OnceLock::new(),
            nsp: OnceLock::new(),
            auth: OnceLock::new(),
            rooms,
        }
    }
}

/// Handles one event: `event` is the name, `args` the arguments. `ack` is NULL unless the client asked
/// for an acknowledgement; then it is yours: `ferrio_ack_send` or `ferrio_ack_free` it, now or later.
pub type ferrio_event_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        socket: *const ferrio_socket,
        event: ferrio_str,
        args: *const ferrio_payload,
        ack: *mut ferrio_ack,
    ),
>;

/// Sees every incoming event before its own handler (socket.io's `onAny`).
pub type ferrio_any_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        socket: *const ferrio_socket,
        event: ferrio_str,
        args: *const ferrio_payload,
    ),
>;

/// Runs when a socket is disconnecting (its rooms still readable) or has disconnected; `reason` is
/// socket.io's (e.g. "client namespace disconnect", "transport close", "server shutting down").
pub type ferrio_disconnect_cb = Option<
    unsafe extern "C" fn(user_data: *mut c_void, socket: *const ferrio_socket, reason: ferrio_str),
>;

/// The completion of `ferrio_socket_emit_with_ack`: `status` is `FERRIO_STATUS_OK` with the client's
/// answer in `response`, or an error (`FERRIO_STATUS_TIMEOUT`, `FERRIO_STATUS_DISCONNECTED`, …) with
/// `response` NULL.
pub type ferrio_ack_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: ferrio_status,
        response: *const ferrio_payload,
    ),
>;

/// The C callbacks of one socket.
#[derive(Default)]
pub(crate) struct SocketCallbacks {
    /// Looked up once per event; only the host inserts, so a client cannot fill it with colliding names.
    events: FxHashMap<String, Arc<Callback<EventFn>>>,
    any: Vec<Arc<Callback<AnyFn>>>,
    disconnecting: Vec<Arc<Callback<DisconnectFn>>>,
    disconnect: Vec<Arc<Callback<DisconnectFn>>>,
}

type EventFn = unsafe extern "C" fn(
    *mut c_void,
    *const ferrio_socket,
    ferrio_str,
    *const ferrio_payload,
    *mut ferrio_ack,
);
type AnyFn =
    unsafe extern "C" fn(*mut c_void, *const ferrio_socket, ferrio_str, *const ferrio_payload);
type DisconnectFn = unsafe extern "C" fn(*mut c_void, *const ferrio_socket, ferrio_str);
type AckFn = unsafe extern "C" fn(*mut c_void, ferrio_status, *const ferrio_payload);

pub(crate) fn run_event(shared: &Arc<Shared>, socket: Socket, event: Event) {
    let (any, handler) = {
        let table = shared.sockets.lock();
        match table.get(&socket.id()) {
            Some(cbs) => (cbs.any.clone(), cbs.events.get(&event.name).cloned()),
            None => (Vec::new(), None),
        }
    };
    if any.is_empty() && handler.is_none() {
        return; // No handler: an ack asked for is never answered, as in socket.io.
    }
    let handle = ferrio_socket::new(shared.clone(), socket, None);
    let name = Terminated::new(&event.name);
    let view = PayloadView::new(event.payload);
    let args = view.raw();
    let _entered = view.enter();
    for cb in &any {
        // SAFETY: a non-NULL C callback with its user data; the views live until it returns.
        unsafe { (cb.f)(cb.ud(), &handle, name.view(), &args) };
    }
    if let Some(cb) = handler {
        let ack = match event.ack {
            Some(sender) => new_ack(shared.id, sender),
            None => std::ptr::null_mut(),
        };
        // SAFETY: as above; the ack handle is C's from now on.
        unsafe { (cb.f)(cb.ud(), &handle, name.view(), &args, ack) };
    }
}

/// Runs the `disconnecting` or (the socket's last) `disconnect` callbacks.
pub(crate) fn run_disconnect(
    shared: &Arc<Shared>,
    socket: Socket,
    reason: DisconnectReason,
    rooms: Option<Vec<Room>>,
    disconnecting: bool,
) {
    // The `disconnect` callbacks are the socket's last: its table leaves the map now, and its user
    // data is released (outside the lock: C may call back) once they have run.
    let (cbs, table) = {
        let mut map = shared.sockets.lock();
        if disconnecting {
            (map.get(&socket.id()).map(|c| c.disconnecting.clone()), None)
        } else {
            let table = map.remove(&socket.id());
            (table.as_ref().map(|c| c.disconnect.clone()), table)
        }
    };
    if let Some(cbs) = cbs {
        let handle = ferrio_socket::new(shared.clone(), socket, rooms);
        let reason = terminated(reason.as_str());
        for cb in &cbs {
            // SAFETY: a non-NULL C callback with its user data; the views live until it returns.
            unsafe { (cb.f)(cb.ud(), &handle, ferrio_str::from_terminated(&reason)) };
        }
    }
    drop(table);
}

/// Borrows a socket handle and checks that its server lives.
unsafe fn live<'a>(socket: *const ferrio_socket) -> Result<&'a ferrio_socket, Error> {
    // SAFETY: forwarded contract: a live socket handle or NULL.
    let s = unsafe { handle(socket, "socket") }?;
    s.shared.alive()?;
    Ok(s)
}

fn register(s: &ferrio_socket, f: impl FnOnce(&mut SocketCallbacks)) -> Result<(), Error> {
    if !s.socket.connected() {
        return Err(Error::new(
            ferrio_status::SocketClosed,
            "the socket is disconnected",
        ));
    }
    let mut table = s.shared.sockets.lock();
    f(table.entry(s.socket.id()).or_default());
    Ok(())
}

/// A new handle on the same socket, valid after the callback returns; free it with
/// `ferrio_socket_free`.
#[no_mangle]
pub extern "C" fn ferrio_socket_clone(
    socket: *const ferrio_socket,
    out: *mut *mut ferrio_socket,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { handle(socket, "socket") }?;
        let copy = Box::new(ferrio_socket::new(
            s.shared.clone(),
            s.socket.clone(),
            s.rooms.clone(),
        ));
        let raw = Box::into_raw(copy);
        // SAFETY: out-param checked for NULL.
        unsafe { write_out(out, raw, "out") }.inspect_err(|_| {
            // SAFETY: just made above and not handed out.
            drop(unsafe { Box::from_raw(raw) });
        })
    })
}

/// Releases a handle made by `ferrio_socket_clone` (never one handed to a callback). NULL is ignored.
/// Allowed after the server was freed.
#[no_mangle]
pub extern "C" fn ferrio_socket_free(socket: *mut ferrio_socket) {
    guard_or((), || {
        if !socket.is_null() {
            // SAFETY: made by `ferrio_socket_clone`, not freed before (contract).
            drop(unsafe { Box::from_raw(socket) });
        }
    })
}

/// The socket id (20 characters, also the name of its private room), borrowed for the handle's life.
#[no_mangle]
pub extern "C" fn ferrio_socket_id(
    socket: *const ferrio_socket,
    out: *mut ferrio_str,
) -> ferrio_status {
    // SAFETY: forwarded contract: a live socket handle or NULL, `out` writable or NULL.
    unsafe {
        write_kept_text(
            socket,
            out,
            |s| &s.id,
            |s| s.socket.id().as_str().to_owned(),
        )
    }
}

/// The namespace name (e.g. "/" or "/chat"), borrowed for the handle's life.
#[no_mangle]
pub extern "C" fn ferrio_socket_namespace(
    socket: *const ferrio_socket,
    out: *mut ferrio_str,
) -> ferrio_status {
    // SAFETY: forwarded contract: a live socket handle or NULL, `out` writable or NULL.
    unsafe { write_kept_text(socket, out, |s| &s.nsp, |s| s.socket.nsp().to_owned()) }
}

/// The `auth` object the client sent when it joined the namespace, as JSON text (`{}` when it sent
/// none), e.g. `{"token":"abc"}`: the handshake's `auth` alone, without copying and parsing the whole
/// handshake. NUL-terminated, borrowed for the handle's life (made on the first call).
#[no_mangle]
pub extern "C" fn ferrio_socket_auth(
    socket: *const ferrio_socket,
    out: *mut ferrio_str,
) -> ferrio_status {
    // SAFETY: forwarded contract: a live socket handle or NULL, `out` writable or NULL.
    unsafe { write_kept_text(socket, out, |s| &s.auth, |s| s.socket.auth().to_string()) }
}

/// Writes to `out` a NUL-terminated text kept in the socket handle (`cell`), made by `make` on the first
/// call, so that it lives as long as the handle.
///
/// # Safety
/// `socket` is a live socket handle or NULL; `out` is writable or NULL.
unsafe fn write_kept_text(
    socket: *const ferrio_socket,
    out: *mut ferrio_str,
    cell: fn(&ferrio_socket) -> &OnceLock<String>,
    make: fn(&ferrio_socket) -> String,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (the caller's contract).
        let s = unsafe { handle(socket, "socket") }?;
        let text = cell(s).get_or_init(|| terminated(&make(s)));
        // SAFETY: out-param checked for NULL.
        unsafe { write_out(out, ferrio_str::from_terminated(text), "out") }
    })
}

/// Whether the socket is still connected (false for NULL).
#[no_mangle]
pub extern "C" fn ferrio_socket_connected(socket: *const ferrio_socket) -> bool {
    guard_or(false, || {
        // SAFETY: a live socket handle or NULL (contract).
        unsafe { socket.as_ref() }.is_some_and(|s| s.shared.alive().is_ok() && s.socket.connected())
    })
}

/// Whether the socket is a session recovered by connection state recovery
/// (`ferrio_server_options_set_connection_state_recovery`; socket.io's `socket.recovered`): its client
/// lost its connection and came back in time, with the same id, rooms and data, after the events it
/// missed. Readable from the middlewares (when they run for it) and connection callbacks on. False for
/// NULL.
#[no_mangle]
pub extern "C" fn ferrio_socket_recovered(socket: *const ferrio_socket) -> bool {
    guard_or(false, || {
        // SAFETY: a live socket handle or NULL (contract).
        unsafe { socket.as_ref() }.is_some_and(|s| s.socket.recovered())
    })
}

/// Copies the handshake as socket.io describes it (JSON object: headers, query, address, time, issued,
/// url, secure, xdomain, auth) into `buf` (see "Output buffers" in include/README.md).
#[no_mangle]
pub extern "C" fn ferrio_socket_handshake(
    socket: *const ferrio_socket,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        let text = s.socket.handshake().to_string();
        // SAFETY: output buffer contract.
        unsafe { write_text(&text, buf, cap, written) }
    })
}

/// Copies the rooms the socket is in (a JSON array of strings, its own id room included) into `buf`.
/// In a `disconnecting` callback these are the rooms it is leaving.
#[no_mangle]
pub extern "C" fn ferrio_socket_rooms(
    socket: *const ferrio_socket,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        let mut rooms: Vec<String> = match &s.rooms {
            Some(rooms) => rooms.iter().map(|r| r.to_string()).collect(),
            None => s.socket.rooms().iter().map(|r| r.to_string()).collect(),
        };
        rooms.sort();
        let text = serde_json::Value::from(rooms).to_string();
        // SAFETY: output buffer contract.
        unsafe { write_text(&text, buf, cap, written) }
    })
}

/// Copies the socket's `data` (JSON, `null` until set) into `buf`.
#[no_mangle]
pub extern "C" fn ferrio_socket_data(
    socket: *const ferrio_socket,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        let text = s.socket.data().to_string();
        // SAFETY: output buffer contract.
        unsafe { write_text(&text, buf, cap, written) }
    })
}

/// Replaces the socket's `data` with a JSON value (visible to `fetch_sockets`).
#[no_mangle]
pub extern "C" fn ferrio_socket_set_data(
    socket: *const ferrio_socket,
    json: *const c_char,
    json_len: usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        // SAFETY: argument contract.
        let value = unsafe { json_arg(json, json_len, "json") }?;
        s.socket.set_data(value);
        Ok(())
    })
}

/// Handles `event` on this socket (replacing a previous handler of the same name). Takes ownership of
/// `user_data` in every case (see include/README.md).
#[no_mangle]
pub extern "C" fn ferrio_socket_on(
    socket: *const ferrio_socket,
    event: *const c_char,
    event_len: usize,
    cb: ferrio_event_cb,
    user_data: *mut c_void,
    user_data_free: ferrio_user_data_free,
) -> ferrio_status {
    guard(|| {
        let cb = Callback::new(cb, user_data, user_data_free, "cb")?;
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        // SAFETY: argument contract.
        let name = unsafe { str_arg(event, event_len, "event") }?.to_owned();
        let replaced = {
            let cb = Arc::new(cb);
            let mut old = None;
            register(s, |t| old = t.events.insert(name, cb))?;
            old
        };
        drop(replaced); // released outside the table's lock
        Ok(())
    })
}

/// Removes the handler of `event` (its user data is released). Not an error when there is none.
#[no_mangle]
pub extern "C" fn ferrio_socket_off(
    socket: *const ferrio_socket,
    event: *const c_char,
    event_len: usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        // SAFETY: argument contract.
        let name = unsafe { str_arg(event, event_len, "event") }?;
        let old = s
            .shared
            .sockets
            .lock()
            .get_mut(&s.socket.id())
            .and_then(|t| t.events.remove(name));
        drop(old);
        Ok(())
    })
}

/// Sees every incoming event of this socket, before its own handler (socket.io's `onAny`).
#[no_mangle]
pub extern "C" fn ferrio_socket_on_any(
    socket: *const ferrio_socket,
    cb: ferrio_any_cb,
    user_data: *mut c_void,
    user_data_free: ferrio_user_data_free,
) -> ferrio_status {
    guard(|| {
        let cb = Callback::new(cb, user_data, user_data_free, "cb")?;
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        register(s, |t| t.any.push(Arc::new(cb)))
    })
}

/// Runs when the socket is disconnecting; `ferrio_socket_rooms` still shows its rooms.
#[no_mangle]
pub extern "C" fn ferrio_socket_on_disconnecting(
    socket: *const ferrio_socket,
    cb: ferrio_disconnect_cb,
    user_data: *mut c_void,
    user_data_free: ferrio_user_data_free,
) -> ferrio_status {
    guard(|| {
        let cb = Callback::new(cb, user_data, user_data_free, "cb")?;
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        register(s, |t| t.disconnecting.push(Arc::new(cb)))
    })
}

/// Runs once the socket has disconnected: the socket's last callback. Its callbacks' user data is
/// released after it.
#[no_mangle]
pub extern "C" fn ferrio_socket_on_disconnect(
    socket: *const ferrio_socket,
    cb: ferrio_disconnect_cb,
    user_data: *mut c_void,
    user_data_free: ferrio_user_data_free,
) -> ferrio_status {
    guard(|| {
        let cb = Callback::new(cb, user_data, user_data_free, "cb")?;
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        register(s, |t| t.disconnect.push(Arc::new(cb)))
    })
}

pub(crate) fn event_name<'a>(ptr: *const c_char, len: usize) -> Result<&'a str, Error> {
    // SAFETY: argument contract (forwarded from the calling extern fn).
    let name = unsafe { str_arg(ptr, len, "event") }?;
    // socket.io's rule, as the core states it.
    if ferrio_core::socketio::is_reserved_event(name) {
        return Err(Error::new(
            ferrio_status::ReservedEvent,
            format!("\"{name}\" is a reserved event name"),
        ));
    }
    Ok(name)
}

/// Emits `event` to this client. `json` is the JSON text of the arguments array (NULL/empty: no
/// arguments), in which `{"_placeholder":true,"num":N}` stands for `attachments[N]` (copied). Never
/// waits.
#[no_mangle]
pub extern "C" fn ferrio_socket_emit(
    socket: *const ferrio_socket,
    event: *const c_char,
    event_len: usize,
    json: *const c_char,
    json_len: usize,
    attachments: *const ferrio_bytes,
    attachment_count: usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        let name = event_name(event, event_len)?;
        // SAFETY: argument contract.
        let payload = unsafe { payload_arg(json, json_len, attachments, attachment_count) }?;
        s.socket.emit(name, payload)?;
        Ok(())
    })
}

/// Like `ferrio_socket_emit`, but the packet may be dropped if the client cannot take it now.
#[no_mangle]
pub extern "C" fn ferrio_socket_emit_volatile(
    socket: *const ferrio_socket,
    event: *const c_char,
    event_len: usize,
    json: *const c_char,
    json_len: usize,
    attachments: *const ferrio_bytes,
    attachment_count: usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        let name = event_name(event, event_len)?;
        // SAFETY: argument contract.
        let payload = unsafe { payload_arg(json, json_len, attachments, attachment_count) }?;
        s.socket.emit_volatile(name, payload)?;
        Ok(())
    })
}

/// Pass as `timeout_ms` to `ferrio_socket_emit_with_ack` to wait for the answer without a deadline, as
/// socket.io's `socket.emit(event, ..., callback)` does: the completion then comes with the client's
/// answer, or with `FERRIO_STATUS_DISCONNECTED` when the socket goes first.
pub const FERRIO_NO_TIMEOUT: u64 = u64::MAX;

/// Emits `event` asking the client for an acknowledgement; `cb` runs once on the callback thread with
/// the answer, or with `FERRIO_STATUS_TIMEOUT` after `timeout_ms` milliseconds (0: the default, 5000;
/// `FERRIO_NO_TIMEOUT`: no deadline), or with another error (`FERRIO_STATUS_DISCONNECTED`, …). If this
/// call itself fails, `cb` never runs. Takes ownership of `user_data` in every case.
#[no_mangle]
pub extern "C" fn ferrio_socket_emit_with_ack(
    socket: *const ferrio_socket,
    event: *const c_char,
    event_len: usize,
    json: *const c_char,
    json_len: usize,
    attachments: *const ferrio_bytes,
    attachment_count: usize,
    timeout_ms: u64,
    cb: ferrio_ack_cb,
    user_data: *mut c_void,
    user_data_free: ferrio_user_data_free,
) -> ferrio_status {
    guard(|| {
        let cb: Callback<AckFn> = Callback::new(cb, user_data, user_data_free, "cb")?;
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        let name = event_name(event, event_len)?;
        // SAFETY: argument contract.
        let payload = unsafe { payload_arg(json, json_len, attachments, attachment_count) }?;
        let timeout = match timeout_ms {
            0 => Duration::from_millis(5000),
            // The core's timer never fires for a deadline past what `Instant` can hold.
            FERRIO_NO_TIMEOUT => Duration::MAX,
            ms => Duration::from_millis(ms),
        };
        let answer = s.socket.emit_with_ack(name, payload, timeout);
        let weak = Arc::downgrade(&s.shared);
        s.shared.rt.spawn(async move {
            let result = answer.await.map_err(Error::from);
            if let Some(shared) = weak.upgrade() {
                shared.call(move |_| complete_ack(cb, result));
            }
        });
        Ok(())
    })
}

fn complete_ack(cb: Callback<AckFn>, result: Result<Payload, Error>) {
    match result {
        Ok(payload) => {
            let view = PayloadView::new(payload);
            let raw = view.raw();
            let _entered = view.enter();
            // SAFETY: a non-NULL C callback; the view lives until it returns.
            unsafe { (cb.f)(cb.ud(), ferrio_status::Ok, &raw) };
        }
        Err(error) => {
            let status = error.record();
            // SAFETY: a non-NULL C callback; NULL response on error, as documented.
            unsafe { (cb.f)(cb.ud(), status, std::ptr::null()) };
        }
    }
}

/// Joins a room (no effect once disconnected).
#[no_mangle]
pub extern "C" fn ferrio_socket_join(
    socket: *const ferrio_socket,
    room: *const c_char,
    room_len: usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        // SAFETY: argument contract.
        let room = unsafe { str_arg(room, room_len, "room") }?;
        s.socket.join(room);
        Ok(())
    })
}

/// Leaves a room.
#[no_mangle]
pub extern "C" fn ferrio_socket_leave(
    socket: *const ferrio_socket,
    room: *const c_char,
    room_len: usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        // SAFETY: argument contract.
        let room = unsafe { str_arg(room, room_len, "room") }?;
        s.socket.leave(room);
        Ok(())
    })
}

/// Disconnects the socket from its namespace, or closes the client's whole connection when `close`.
/// Its `disconnecting`/`disconnect` callbacks follow with "server namespace disconnect" (or "forced
/// close").
#[no_mangle]
pub extern "C" fn ferrio_socket_disconnect(
    socket: *const ferrio_socket,
    close: bool,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { live(socket) }?;
        s.socket.disconnect(close);
        Ok(())
    })
}
