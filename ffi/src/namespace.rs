//! Namespaces (static, and dynamic ones chosen by a C predicate), their connection callbacks and
//! connect middlewares, and the broadcast builder (socket.io's `to` / `except` / `local` / `volatile` /
//! `timeout`, then an operation).

use crate::once::{ferrio_connect_request, new_connect};
use crate::server::{ferrio_server, Registration, Shared, ToCallbacks};
use crate::socket::{event_name, ferrio_socket};
use crate::status::{ferrio_status, guard, guard_or, Error};
use crate::types::{
    ferrio_bytes, ferrio_payload, ferrio_str, ferrio_user_data_free, handle, payload_arg, str_arg,
    terminated, write_out, write_text, Callback, PayloadView,
};
use ferrio_core::socketio::DynamicNamespaceParent;
use ferrio_core::{BroadcastOperator, Namespace, Socket};
use ferrio_host::{attach, Verdict, Watch};
use parking_lot::Mutex;
use std::ffi::{c_char, c_void};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Runs when a socket has joined the namespace (socket.io's `connection`): register its handlers here.
pub type ferrio_connection_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, socket: *const ferrio_socket)>;

/// A connect middleware: decide about `socket` (not connected yet; its handshake is readable) with
/// `ferrio_connect_accept` or `ferrio_connect_reject` on `request`, now or later, from any thread.
pub type ferrio_middleware_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        socket: *const ferrio_socket,
        request: *mut ferrio_connect_request,
    ),
>;

/// Decides whether a dynamic namespace `name` exists, given the client's `auth` (JSON text). Unlike
/// every other callback it runs on a ferrio worker thread, synchronously, while a client connects: it
/// must be quick, must not block and must not call ferrio.
pub type ferrio_namespace_predicate = Option<
    unsafe extern "C" fn(user_data: *mut c_void, name: ferrio_str, auth_json: ferrio_str) -> bool,
>;

type ConnFn = unsafe extern "C" fn(*mut c_void, *const ferrio_socket);
pub(crate) type MiddlewareFn =
    unsafe extern "C" fn(*mut c_void, *const ferrio_socket, *mut ferrio_connect_request);
type PredicateFn = unsafe extern "C" fn(*mut c_void, ferrio_str, ferrio_str) -> bool;

/// The C callbacks of a namespace (or of a dynamic parent, shared by its children). The core holds
/// only weak references, so freeing the server releases the user data at once.
#[derive(Default)]
pub(crate) struct NspCallbacks {
    connection: Mutex<Vec<Arc<Callback<ConnFn>>>>,
    middlewares: Mutex<Vec<Arc<Callback<MiddlewareFn>>>>,
}

impl NspCallbacks {
    pub(crate) fn clear(&self) {
        let connection = std::mem::take(&mut *self.connection.lock());
        let middlewares = std::mem::take(&mut *self.middlewares.lock());
        drop((connection, middlewares));
    }
}

/// A dynamic namespace parent and its callbacks.
pub(crate) struct DynParent {
    parent: DynamicNamespaceParent,
    cbs: Arc<NspCallbacks>,
    predicate: Mutex<Option<Arc<Callback<PredicateFn>>>>,
}

impl DynParent {
    pub(crate) fn clear(&self) {
        self.cbs.clear();
        let predicate = self.predicate.lock().take();
        drop(predicate);
    }
}

enum Kind {
    /// A namespace with its callbacks (None: a dynamic namespace's child, whose callbacks are the
    /// parent's).
    Static(Namespace, Option<Arc<NspCallbacks>>),
    Dynamic(Arc<DynParent>),
}

/// A namespace handle from `ferrio_server_of` or `ferrio_server_of_dynamic`; free it with
/// `ferrio_namespace_free` (the namespace itself lives on).
pub struct ferrio_namespace {
    shared: Arc<Shared>,
    kind: Kind,
    name: String,
}

/// The core connection handler of a namespace (or dynamic parent) whose C callbacks are `cbs`: every
/// event of the socket's namespace goes to the callbacks (the handler table is C's, per socket), its
/// departures too, then the `connection` callbacks run.
fn connection_handler(
    shared: &Arc<Shared>,
    cbs: &Arc<NspCallbacks>,
) -> impl Fn(Socket) + Send + Sync + 'static {
    let sink = Arc::new(ToCallbacks(Arc::downgrade(shared)));
    let events = attach::events(sink.clone());
    let connected = attach::connection(
        sink,
        Registration::Namespace(Arc::downgrade(cbs)),
        Watch::BOTH,
    );
    move |socket: Socket| {
        socket.namespace().set_fallback_handler(events.clone());
        connected(socket);
    }
}

/// Runs the `connection` callbacks of a socket that joined.
pub(crate) fn run_connection(shared: &Arc<Shared>, socket: Socket, cbs: &Weak<NspCallbacks>) {
    let Some(cbs) = cbs.upgrade() else {
        return;
    };
    let list = cbs.connection.lock().clone();
    if list.is_empty() {
        return;
    }
    let handle = ferrio_socket::new(shared.clone(), socket, None);
    for cb in &list {
        // SAFETY: a non-NULL C callback; the socket handle lives until it returns.
        unsafe { (cb.f)(cb.ud(), &handle) };
    }
}

/// Runs a C middleware: the request handle is C's from then on; if the middleware is gone, the verdict
/// is dropped, which refuses the socket.
pub(crate) fn run_middleware(
    shared: &Arc<Shared>,
    socket: Socket,
    verdict: Verdict,
    cb: &Weak<Callback<MiddlewareFn>>,
) {
    let Some(cb) = cb.upgrade() else {
        return;
    };
    let handle = ferrio_socket::new(shared.clone(), socket, None);
    let request = new_connect(shared.id, verdict);
    // SAFETY: a non-NULL C callback; the request handle is C's from now on.
    unsafe { (cb.f)(cb.ud(), &handle, request) };
}

/// The namespace `name` ("chat" and "/chat" are the same), created if needed. For an existing child of
/// a dynamic namespace, the handle can broadcast but not register callbacks (register on the parent).
#[no_mangle]
pub extern "C" fn ferrio_server_of(
    server: *const ferrio_server,
    name: *const c_char,
    name_len: usize,
    out: *mut *mut ferrio_namespace,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live server handle or NULL (contract).
        let shared = &unsafe { handle(server, "server") }?.shared;
        shared.alive()?;
        // SAFETY: argument contract.
        let name = unsafe { str_arg(name, name_len, "name") }?;
        if out.is_null() {
            return Err(Error::null("out"));
        }
        let name = if name.starts_with('/') {
            name.to_owned()
        } else {
            format!("/{name}")
        };
        let child = shared
            .dynamic
            .lock()
            .iter()
            .find_map(|d| d.parent.children().into_iter().find(|n| n.name() == name));
        let kind = match child {
            Some(nsp) => Kind::Static(nsp, None),
            None => {
                let nsp = shared.server.of(&name);
                let mut known = shared.namespaces.lock();
                let cbs = match known.get(&name) {
                    Some(cbs) => cbs.clone(),
                    None => {
                        let cbs = Arc::new(NspCallbacks::default());
                        nsp.on_connection(connection_handler(shared, &cbs));
                        known.insert(name.clone(), cbs.clone());
                        cbs
                    }
                };
                Kind::Static(nsp, Some(cbs))
            }
        };
        let handle = Box::new(ferrio_namespace {
            shared: shared.clone(),
            kind,
            name: terminated(&name),
        });
        // SAFETY: checked non-NULL above.
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// Dynamic namespaces: every name `predicate` accepts is created on first connect, sharing the
/// callbacks registered on the returned parent. See `ferrio_namespace_predicate` for where it runs.
/// Takes ownership of `user_data` in every case.
#[no_mangle]
pub extern "C" fn ferrio_server_of_dynamic(
    server: *const ferrio_server,
    predicate: ferrio_namespace_predicate,
    user_data: *mut c_void,
    user_data_free: ferrio_user_data_free,
    out: *mut *mut ferrio_namespace,
) -> ferrio_status {
    guard(|| {
        let predicate = Arc::new(Callback::new(
            predicate,
            user_data,
            user_data_free,
            "predicate",
        )?);
        // SAFETY: a live server handle or NULL (contract).
        let shared = &unsafe { handle(server, "server") }?.shared;
        shared.alive()?;
        if out.is_null() {
            return Err(Error::null("out"));
        }
        let weak = Arc::downgrade(&predicate);
        let parent = shared.server.of_dynamic(move |name, auth| {
            let Some(cb) = weak.upgrade() else {
                return false;
            };
            let name = terminated(name);
            let auth = terminated(&auth.to_string());
            // SAFETY: a non-NULL C predicate; the views live until it returns.
            unsafe {
                (cb.f)(
                    cb.ud(),
                    ferrio_str::from_terminated(&name),
                    ferrio_str::from_terminated(&auth),
                )
            }
        });
        let cbs = Arc::new(NspCallbacks::default());
        parent.on_connection(connection_handler(shared, &cbs));
        let dynamic = Arc::new(DynParent {
            parent,
            cbs,
            predicate: Mutex::new(Some(predicate)),
        });
        shared.dynamic.lock().push(dynamic.clone());
        let handle = Box::new(ferrio_namespace {
            shared: shared.clone(),
            kind: Kind::Dynamic(dynamic),
            name: terminated("(dynamic)"),
        });
        // SAFETY: checked non-NULL above.
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// Releases a namespace handle (not the namespace). NULL is ignored. Allowed after the server was freed.
#[no_mangle]
pub extern "C" fn ferrio_namespace_free(nsp: *mut ferrio_namespace) {
    guard_or((), || {
        if !nsp.is_null() {
            // SAFETY: made by `ferrio_server_of*`, not freed before (contract).
            drop(unsafe { Box::from_raw(nsp) });
        }
    })
}

/// The namespace's name ("(dynamic)" for a dynamic parent), borrowed for the handle's life.
#[no_mangle]
pub extern "C" fn ferrio_namespace_name(
    nsp: *const ferrio_namespace,
    out: *mut ferrio_str,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live namespace handle or NULL (contract).
        let n = unsafe { handle(nsp, "nsp") }?;
        // SAFETY: out-param checked for NULL.
        unsafe { write_out(out, ferrio_str::from_terminated(&n.name), "out") }
    })
}

unsafe fn live_nsp<'a>(nsp: *const ferrio_namespace) -> Result<&'a ferrio_namespace, Error> {
    // SAFETY: forwarded contract.
    let n = unsafe { handle(nsp, "nsp") }?;
    n.shared.alive()?;
    Ok(n)
}

fn callbacks(n: &ferrio_namespace) -> Result<&Arc<NspCallbacks>, Error> {
    match &n.kind {
        Kind::Static(_, Some(cbs)) => Ok(cbs),
        Kind::Dynamic(d) => Ok(&d.cbs),
        Kind::Static(_, None) => Err(Error::new(
            ferrio_status::InvalidState,
            "this namespace is a dynamic namespace's child: register on the parent",
        )),
    }
}

fn target(n: &ferrio_namespace) -> Result<&Namespace, Error> {
    match &n.kind {
        Kind::Static(nsp, _) => Ok(nsp),
        Kind::Dynamic(_) => Err(Error::new(
            ferrio_status::InvalidState,
            "a dynamic parent has no sockets of its own: use ferrio_server_of on a child",
        )),
    }
}

/// Runs `cb` for every socket that joins (socket.io's `connection`). Takes ownership of `user_data` in
/// every case.
#[no_mangle]
pub extern "C" fn ferrio_namespace_on_connection(
    nsp: *const ferrio_namespace,
    cb: ferrio_connection_cb,
    user_data: *mut c_void,
    user_data_free: ferrio_user_data_free,
) -> ferrio_status {
    guard(|| {
        let cb = Callback::new(cb, user_data, user_data_free, "cb")?;
        // SAFETY: a live namespace handle or NULL (contract).
        let n = unsafe { live_nsp(nsp) }?;
        callbacks(n)?.connection.lock().push(Arc::new(cb));
        Ok(())
    })
}

/// Adds a connect middleware (socket.io's `use`); middlewares run in order. Takes ownership of
/// `user_data` in every case.
#[no_mangle]
pub extern "C" fn ferrio_namespace_use(
    nsp: *const ferrio_namespace,
    cb: ferrio_middleware_cb,
    user_data: *mut c_void,
    user_data_free: ferrio_user_data_free,
) -> ferrio_status {
    guard(|| {
        let cb = Arc::new(Callback::new(cb, user_data, user_data_free, "cb")?);
        // SAFETY: a live namespace handle or NULL (contract).
        let n = unsafe { live_nsp(nsp) }?;
        let cbs = callbacks(n)?;
        let middleware = attach::middleware(
            Arc::new(ToCallbacks(Arc::downgrade(&n.shared))),
            Registration::Middleware(Arc::downgrade(&cb)),
        );
        cbs.middlewares.lock().push(cb);
        match &n.kind {
            Kind::Static(nsp, _) => nsp.use_middleware(middleware),
            Kind::Dynamic(d) => d.parent.use_middleware(middleware),
        }
        Ok(())
    })
}

/// Copies this process's rooms of the namespace with their sizes into `buf`, as a JSON object
/// `{"room": size, …}`; with `include_private`, also the rooms named by socket ids.
#[no_mangle]
pub extern "C" fn ferrio_namespace_rooms(
    nsp: *const ferrio_namespace,
    include_private: bool,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live namespace handle or NULL (contract).
        let n = unsafe { live_nsp(nsp) }?;
        let rooms: serde_json::Map<String, serde_json::Value> = target(n)?
            .rooms(include_private)
            .into_iter()
            .map(|(room, size)| (room.to_string(), size.into()))
            .collect();
        let text = serde_json::Value::Object(rooms).to_string();
        // SAFETY: output buffer contract.
        unsafe { write_text(&text, buf, cap, written) }
    })
}

/// How many sockets of this process are in `room` (0 when it does not exist).
#[no_mangle]
pub extern "C" fn ferrio_namespace_room_size(
    nsp: *const ferrio_namespace,
    room: *const c_char,
    room_len: usize,
    out: *mut usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live namespace handle or NULL (contract).
        let n = unsafe { live_nsp(nsp) }?;
        // SAFETY: argument contract.
        let room = unsafe { str_arg(room, room_len, "room") }?;
        let size = target(n)?
            .rooms(true)
            .into_iter()
            .find(|(r, _)| &**r == room)
            .map_or(0, |(_, size)| size);
        // SAFETY: out-param checked for NULL.
        unsafe { write_out(out, size, "out") }
    })
}

/// A broadcast: a set of target sockets and flags, then operations. Made by
/// `ferrio_namespace_broadcast` or `ferrio_socket_broadcast`; reusable; free with
/// `ferrio_broadcast_free`. Not for concurrent use from several threads.
pub struct ferrio_broadcast {
    shared: Arc<Shared>,
    op: Option<BroadcastOperator>,
}

/// Each socket's answer to `ferrio_broadcast_emit_with_ack`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrio_ack_response {
    /// The id of the socket that answered; empty for a socket of another server of a Redis cluster.
    pub socket_id: ferrio_str,
    /// Its answer.
    pub payload: ferrio_payload,
}

/// The completion of `ferrio_broadcast_emit_with_ack`: `FERRIO_STATUS_OK` when every targeted socket
/// (`expected`) answered, `FERRIO_STATUS_TIMEOUT` with the answers that came in time, or another error.
pub type ferrio_broadcast_ack_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: ferrio_status,
        responses: *const ferrio_ack_response,
        count: usize,
        expected: usize,
    ),
>;

/// The completion of `ferrio_broadcast_fetch_sockets`: on success, `json` is an array of
/// `{"id", "rooms", "data", "handshake"}` objects (act on one with a broadcast `to` its id).
pub type ferrio_fetch_sockets_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, status: ferrio_status, json: ferrio_str)>;

type BroadcastAckFn =
    unsafe extern "C" fn(*mut c_void, ferrio_status, *const ferrio_ack_response, usize, usize);
type FetchFn = unsafe extern "C" fn(*mut c_void, ferrio_status, ferrio_str);

fn new_broadcast(
    shared: &Arc<Shared>,
    op: BroadcastOperator,
    out: *mut *mut ferrio_broadcast,
) -> Result<(), Error> {
    let raw = Box::into_raw(Box::new(ferrio_broadcast {
        shared: shared.clone(),
        op: Some(op),
    }));
    // SAFETY: out-param checked for NULL; on failure the box is reclaimed.
    unsafe { write_out(out, raw, "out") }.inspect_err(|_| {
        // SAFETY: just made and not handed out.
        drop(unsafe { Box::from_raw(raw) });
    })
}

/// A broadcast to every socket of the namespace.
#[no_mangle]
pub extern "C" fn ferrio_namespace_broadcast(
    nsp: *const ferrio_namespace,
    out: *mut *mut ferrio_broadcast,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live namespace handle or NULL (contract).
        let n = unsafe { live_nsp(nsp) }?;
        let op = target(n)?.broadcast_operator();
        new_broadcast(&n.shared, op, out)
    })
}

/// A broadcast from a socket: every socket of its namespace except itself (socket.io's
/// `socket.broadcast`; `socket.to(room)` is this plus `ferrio_broadcast_to`).
#[no_mangle]
pub extern "C" fn ferrio_socket_broadcast(
    socket: *const ferrio_socket,
    out: *mut *mut ferrio_broadcast,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live socket handle or NULL (contract).
        let s = unsafe { handle(socket, "socket") }?;
        s.shared.alive()?;
        new_broadcast(&s.shared, s.socket.broadcast(), out)
    })
}

/// Releases a broadcast. NULL is ignored.
#[no_mangle]
pub extern "C" fn ferrio_broadcast_free(broadcast: *mut ferrio_broadcast) {
    guard_or((), || {
        if !broadcast.is_null() {
            // SAFETY: made by this library, not freed before (contract).
            drop(unsafe { Box::from_raw(broadcast) });
        }
    })
}

fn modify(
    broadcast: *mut ferrio_broadcast,
    f: impl FnOnce(BroadcastOperator) -> Result<BroadcastOperator, Error>,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live broadcast handle or NULL, not used concurrently (contract).
        let b = unsafe { broadcast.as_mut() }.ok_or_else(|| Error::null("broadcast"))?;
        b.shared.alive()?;
        let op =
            b.op.as_ref()
                .ok_or_else(|| Error::new(ferrio_status::Panic, "broadcast poisoned"))?;
        b.op = Some(f(op.clone())?);
        Ok(())
    })
}

fn room_modifier(
    broadcast: *mut ferrio_broadcast,
    room: *const c_char,
    room_len: usize,
    except: bool,
) -> ferrio_status {
    guard(|| {
        // SAFETY: argument contract.
        let room = unsafe { str_arg(room, room_len, "room") }?.to_owned();
        match modify(broadcast, |op| {
            Ok(if except { op.except(room) } else { op.to(room) })
        }) {
            ferrio_status::Ok => Ok(()),
            status => Err(Error::new(status, crate::status::last_error())),
        }
    })
}

/// Adds a room to the targets (a socket id targets that socket).
#[no_mangle]
pub extern "C" fn ferrio_broadcast_to(
    broadcast: *mut ferrio_broadcast,
    room: *const c_char,
    room_len: usize,
) -> ferrio_status {
    room_modifier(broadcast, room, room_len, false)
}

/// Excludes the sockets in a room (a socket id excludes that socket).
#[no_mangle]
pub extern "C" fn ferrio_broadcast_except(
    broadcast: *mut ferrio_broadcast,
    room: *const c_char,
    room_len: usize,
) -> ferrio_status {
    room_modifier(broadcast, room, room_len, true)
}

/// This process only, even with a multi-process adapter.
#[no_mangle]
pub extern "C" fn ferrio_broadcast_local(broadcast: *mut ferrio_broadcast) -> ferrio_status {
    modify(broadcast, |op| Ok(op.local()))
}

/// Packets may be dropped for sockets that cannot take them now.
#[no_mangle]
pub extern "C" fn ferrio_broadcast_volatile(broadcast: *mut ferrio_broadcast) -> ferrio_status {
    modify(broadcast, |op| Ok(op.volatile()))
}

/// The deadline of `ferrio_broadcast_emit_with_ack`, in milliseconds (default 5000).
#[no_mangle]
pub extern "C" fn ferrio_broadcast_timeout_ms(
    broadcast: *mut ferrio_broadcast,
    ms: u64,
) -> ferrio_status {
    modify(broadcast, |op| {
        if ms == 0 {
            return Err(Error::new(
                ferrio_status::InvalidArgument,
                "`ms` must be positive",
            ));
        }
        Ok(op.timeout(Duration::from_millis(ms)))
    })
}

unsafe fn live_broadcast<'a>(
    broadcast: *const ferrio_broadcast,
) -> Result<&'a BroadcastOperator, Error> {
    // SAFETY: forwarded contract.
    let b = unsafe { handle(broadcast, "broadcast") }?;
    b.shared.alive()?;
    b.op.as_ref()
        .ok_or_else(|| Error::new(ferrio_status::Panic, "broadcast poisoned"))
}

/// Emits to every target (arguments as for `ferrio_socket_emit`). Never waits.
#[no_mangle]
pub extern "C" fn ferrio_broadcast_emit(
    broadcast: *const ferrio_broadcast,
    event: *const c_char,
    event_len: usize,
    json: *const c_char,
    json_len: usize,
    attachments: *const ferrio_bytes,
    attachment_count: usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live broadcast handle or NULL (contract).
        let op = unsafe { live_broadcast(broadcast) }?;
        let name = event_name(event, event_len)?;
        // SAFETY: argument contract.
        let payload = unsafe { payload_arg(json, json_len, attachments, attachment_count) }?;
        op.emit(name, payload)?;
        Ok(())
    })
}

/// Emits to every target and gathers one answer per socket until the broadcast's timeout; `cb` runs
/// once on the callback thread. If this call fails, `cb` never runs. Takes ownership of `user_data`
/// in every case.
#[no_mangle]
pub extern "C" fn ferrio_broadcast_emit_with_ack(
    broadcast: *const ferrio_broadcast,
    event: *const c_char,
    event_len: usize,
    json: *const c_char,
    json_len: usize,
    attachments: *const ferrio_bytes,
    attachment_count: usize,
    cb: ferrio_broadcast_ack_cb,
    user_data: *mut c_void,
    user_data_free: ferrio_user_data_free,
) -> ferrio_status {
    guard(|| {
        let cb: Callback<BroadcastAckFn> = Callback::new(cb, user_data, user_data_free, "cb")?;
        // SAFETY: a live broadcast handle or NULL (contract).
        let b = unsafe { handle(broadcast, "broadcast") }?;
        // SAFETY: as above.
        let op = unsafe { live_broadcast(broadcast) }?.clone();
        let name = event_name(event, event_len)?.to_owned();
        // SAFETY: argument contract.
        let payload = unsafe { payload_arg(json, json_len, attachments, attachment_count) }?;
        let weak = Arc::downgrade(&b.shared);
        b.shared.rt.spawn(async move {
            let result = op.emit_with_ack(&name, payload).await;
            let Some(shared) = weak.upgrade() else {
                return;
            };
            shared.call(move |_| {
                let (status, answers, expected) = match result {
                    Ok(r) => (ferrio_status::Ok, r.answers, r.expected),
                    Err(ferrio_core::AckError::Timeout { answers }) => {
                        let n = answers.len();
                        let status =
                            Error::new(ferrio_status::Timeout, "operation has timed out").record();
                        (status, answers, n + 1)
                    }
                    Err(e) => (Error::from(e).record(), Vec::new(), 0),
                };
                let ids: Vec<String> = answers
                    .iter()
                    .map(|(sid, _)| terminated(sid.as_ref().map_or("", |s| s.as_str())))
                    .collect();
                let views: Vec<PayloadView> = answers
                    .into_iter()
                    .map(|(_, p)| PayloadView::new(p))
                    .collect();
                let raw: Vec<ferrio_ack_response> = ids
                    .iter()
                    .zip(&views)
                    .map(|(id, view)| ferrio_ack_response {
                        socket_id: ferrio_str::from_terminated(id),
                        payload: view.raw(),
                    })
                    .collect();
                let ptr = if raw.is_empty() {
                    std::ptr::null()
                } else {
                    raw.as_ptr()
                };
                // SAFETY: a non-NULL C callback; the views live until it returns.
                unsafe { (cb.f)(cb.ud(), status, ptr, raw.len(), expected) };
            });
        });
        Ok(())
    })
}

/// Makes every target join `room`.
#[no_mangle]
pub extern "C" fn ferrio_broadcast_sockets_join(
    broadcast: *const ferrio_broadcast,
    room: *const c_char,
    room_len: usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live broadcast handle or NULL (contract).
        let op = unsafe { live_broadcast(broadcast) }?;
        // SAFETY: argument contract.
        let room = unsafe { str_arg(room, room_len, "room") }?;
        op.sockets_join(room);
        Ok(())
    })
}

/// Makes every target leave `room`.
#[no_mangle]
pub extern "C" fn ferrio_broadcast_sockets_leave(
    broadcast: *const ferrio_broadcast,
    room: *const c_char,
    room_len: usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live broadcast handle or NULL (contract).
        let op = unsafe { live_broadcast(broadcast) }?;
        // SAFETY: argument contract.
        let room = unsafe { str_arg(room, room_len, "room") }?;
        op.sockets_leave(room);
        Ok(())
    })
}

/// Disconnects every target (and their whole connections when `close`).
#[no_mangle]
pub extern "C" fn ferrio_broadcast_disconnect_sockets(
    broadcast: *const ferrio_broadcast,
    close: bool,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live broadcast handle or NULL (contract).
        let op = unsafe { live_broadcast(broadcast) }?;
        op.disconnect_sockets(close);
        Ok(())
    })
}

/// Finds the targets (with a remote adapter, in every process); `cb` runs once on the callback
/// thread. Takes ownership of `user_data` in every case.
#[no_mangle]
pub extern "C" fn ferrio_broadcast_fetch_sockets(
    broadcast: *const ferrio_broadcast,
    cb: ferrio_fetch_sockets_cb,
    user_data: *mut c_void,
    user_data_free: ferrio_user_data_free,
) -> ferrio_status {
    guard(|| {
        let cb: Callback<FetchFn> = Callback::new(cb, user_data, user_data_free, "cb")?;
        // SAFETY: a live broadcast handle or NULL (contract).
        let b = unsafe { handle(broadcast, "broadcast") }?;
        // SAFETY: as above.
        let op = unsafe { live_broadcast(broadcast) }?.clone();
        let weak = Arc::downgrade(&b.shared);
        b.shared.rt.spawn(async move {
            let result = op.fetch_sockets().await;
            let Some(shared) = weak.upgrade() else {
                return;
            };
            shared.call(move |_| {
                let (status, text) = match result {
                    Ok(sockets) => {
                        let list: Vec<serde_json::Value> = sockets
                            .into_iter()
                            .map(|s| {
                                let mut rooms: Vec<String> =
                                    s.rooms.iter().map(|r| r.to_string()).collect();
                                rooms.sort();
                                serde_json::json!({
                                    "id": s.id.as_str(),
                                    "rooms": rooms,
                                    "data": s.data,
                                    "handshake": s.handshake,
                                })
                            })
                            .collect();
                        (ferrio_status::Ok, serde_json::Value::from(list).to_string())
                    }
                    Err(e) => (Error::from(e).record(), String::new()),
                };
                let text = terminated(&text);
                // SAFETY: a non-NULL C callback; the view lives until it returns.
                unsafe { (cb.f)(cb.ud(), status, ferrio_str::from_terminated(&text)) };
            });
        });
        Ok(())
    })
}
