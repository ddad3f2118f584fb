//! ABI misuse tests: Rust calling the exported functions the way a careless C program would — NULL
//! arguments, invalid UTF-8 and JSON, an ack used twice, a server freed from inside its own callback,
//! a socket used after its server was freed — and checking that every `user_data_free` runs exactly
//! once.

use super::*;
use crate::status::Error;
use futures_util::{SinkExt, StreamExt};
use std::ffi::{c_void, CStr};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const NUL: usize = usize::MAX;

fn last_error() -> String {
    let mut buf = [0 as c_char; 512];
    let mut written = 0usize;
    assert_eq!(
        ferrio_last_error(buf.as_mut_ptr(), buf.len(), &mut written),
        ferrio_status::Ok
    );
    // SAFETY: `ferrio_last_error` NUL-terminated the buffer.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Counts `user_data_free` calls.
static FREED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_free(_: *mut c_void) {
    FREED.fetch_add(1, Ordering::SeqCst);
}

/// `ferrio_server_new` refuses `options`: `FERRIO_STATUS_INVALID_ARGUMENT`, nothing made; the message.
fn refused(options: *const ferrio_server_options) -> String {
    let mut server = null_mut();
    assert_eq!(
        ferrio_server_new(options, &mut server),
        ferrio_status::InvalidArgument
    );
    assert!(server.is_null(), "no server on failure");
    last_error()
}

/// The core code of each C status: an exhaustive match, so a status added here without a core code
/// does not compile.
fn core_code(status: ferrio_status) -> ferrio_core::ErrorCode {
    use ferrio_core::ErrorCode;
    match status {
        ferrio_status::Ok => ErrorCode::Ok,
        ferrio_status::NullArgument => ErrorCode::NullArgument,
        ferrio_status::InvalidUtf8 => ErrorCode::InvalidUtf8,
        ferrio_status::InvalidJson => ErrorCode::InvalidJson,
        ferrio_status::InvalidArgument => ErrorCode::InvalidArgument,
        ferrio_status::InvalidState => ErrorCode::InvalidState,
        ferrio_status::BufferTooSmall => ErrorCode::BufferTooSmall,
        ferrio_status::AlreadyUsed => ErrorCode::AlreadyUsed,
        ferrio_status::ServerGone => ErrorCode::ServerGone,
        ferrio_status::WouldDeadlock => ErrorCode::WouldDeadlock,
        ferrio_status::SocketClosed => ErrorCode::SocketClosed,
        ferrio_status::QueueFull => ErrorCode::QueueFull,
        ferrio_status::ReservedEvent => ErrorCode::ReservedEvent,
        ferrio_status::Timeout => ErrorCode::Timeout,
        ferrio_status::Disconnected => ErrorCode::Disconnected,
        ferrio_status::AdapterError => ErrorCode::AdapterError,
        ferrio_status::IoError => ErrorCode::IoError,
        ferrio_status::Panic => ErrorCode::Panic,
        ferrio_status::LimitExceeded => ErrorCode::LimitExceeded,
    }
}

#[test]
fn every_error_code_is_a_status_of_the_same_name_and_number() {
    use ferrio_core::ErrorCode;
    for &code in ErrorCode::ALL {
        let status = ferrio_status::from_code(code)
            .unwrap_or_else(|| panic!("the core's {code} has no ferrio_status"));
        assert_eq!(status as u32, code as u32, "{code}: numbers differ");
        assert_eq!(format!("{status:?}"), code.name(), "{code}: names differ");
        assert_eq!(core_code(status), code);
        // SAFETY: a static string from the library.
        let text = unsafe { CStr::from_ptr(ferrio_status_str(code as u32)) };
        assert_eq!(text.to_str().unwrap(), code.description());
    }
    // The C numbers are the ABI: they never move.
    assert_eq!(ferrio_status::InvalidArgument as u32, 4);
    assert_eq!(ferrio_status::LimitExceeded as u32, 18);
    assert_eq!(ErrorCode::ALL.len(), 19);
    // Core errors become statuses through their codes.
    let status = |error: Error| error.status;
    assert_eq!(
        status(ferrio_core::EmitError::TooDeep.into()),
        ferrio_status::LimitExceeded
    );
    assert_eq!(
        status(ferrio_core::AckError::Disconnected.into()),
        ferrio_status::Disconnected
    );
    assert_eq!(
        status(ferrio_core::InvalidRateLimit.into()),
        ferrio_status::InvalidArgument
    );
    println!(
        "{} error codes, each a ferrio_status of the same name and number",
        ErrorCode::ALL.len()
    );
}

#[test]
fn null_invalid_utf8_and_bad_arguments_give_statuses() {
    assert_eq!(
        ferrio_server_options_new(null_mut()),
        ferrio_status::NullArgument
    );
    assert!(
        last_error().contains("`out` must not be NULL"),
        "{}",
        last_error()
    );

    let mut options = null_mut();
    assert_eq!(ferrio_server_options_new(&mut options), ferrio_status::Ok);
    let bad = [b'/', 0xff, 0xfe];
    assert_eq!(
        ferrio_server_options_set_path(options, bad.as_ptr().cast(), bad.len()),
        ferrio_status::InvalidUtf8
    );
    assert!(last_error().contains("UTF-8"));
    assert_eq!(
        ferrio_server_options_set_path(null_mut(), c"/x".as_ptr(), NUL),
        ferrio_status::NullArgument
    );
    assert_eq!(
        ferrio_server_options_set_path(options, null(), 3),
        ferrio_status::NullArgument
    );
    // An unknown dispatch mode is not even a value of the option: the setter refuses it.
    assert_eq!(
        ferrio_server_options_set_dispatch_mode(options, 7),
        ferrio_status::InvalidArgument
    );
    // Values out of range are recorded, and refused by `ferrio_server_new` (the core's check), which
    // names the first of them.
    assert_eq!(
        ferrio_server_options_set_transports(options, false, false),
        ferrio_status::Ok
    );
    assert_eq!(
        ferrio_server_options_set_ping_interval_ms(options, 0),
        ferrio_status::Ok
    );
    assert_eq!(refused(options), "ping_interval must be positive");
    assert_eq!(
        ferrio_server_options_set_ping_interval_ms(options, 25_000),
        ferrio_status::Ok
    );
    assert_eq!(
        refused(options),
        "transports must allow polling, websocket or both"
    );
    ferrio_server_options_free(options);
    ferrio_server_options_free(null_mut());

    assert_eq!(
        ferrio_server_new(null(), null_mut()),
        ferrio_status::NullArgument
    );
    assert_eq!(
        ferrio_server_listen(null(), c"127.0.0.1".as_ptr(), NUL, 0, null_mut()),
        ferrio_status::NullArgument
    );
    assert_eq!(ferrio_server_free(null_mut()), ferrio_status::NullArgument);
    assert_eq!(ferrio_server_close(null()), ferrio_status::NullArgument);
    assert_eq!(
        ferrio_socket_emit(null(), c"x".as_ptr(), NUL, c"[]".as_ptr(), NUL, null(), 0),
        ferrio_status::NullArgument
    );
    assert_eq!(
        ferrio_ack_send(null_mut(), null(), 0, null(), 0),
        ferrio_status::NullArgument
    );
    // A pointer that was never an ack.
    assert_eq!(
        ferrio_ack_free(usize::MAX as *mut ferrio_ack),
        ferrio_status::InvalidArgument
    );
    assert_eq!(
        ferrio_connect_accept(null_mut()),
        ferrio_status::NullArgument
    );

    // A failed registration still releases the user data, exactly once.
    let before = FREED.load(Ordering::SeqCst);
    assert_eq!(
        ferrio_socket_on(
            null(),
            c"ev".as_ptr(),
            NUL,
            None,
            null_mut(),
            Some(count_free)
        ),
        ferrio_status::NullArgument
    );
    assert_eq!(FREED.load(Ordering::SeqCst), before + 1);

    // Output buffers report the size they need.
    let mut small = [0 as c_char; 4];
    let mut written = 0usize;
    let _ = ferrio_server_options_new(null_mut());
    assert_eq!(
        ferrio_last_error(small.as_mut_ptr(), small.len(), &mut written),
        ferrio_status::BufferTooSmall
    );
    assert_eq!(written, "`out` must not be NULL".len() + 1);

    // SAFETY: static strings from the library.
    unsafe {
        assert_eq!(CStr::from_ptr(ferrio_status_str(0)).to_str().unwrap(), "ok");
        assert_eq!(
            CStr::from_ptr(ferrio_status_str(9999)).to_str().unwrap(),
            "unknown status"
        );
        assert_eq!(
            CStr::from_ptr(ferrio_version()).to_str().unwrap(),
            env!("CARGO_PKG_VERSION")
        );
    }
}

/// What the callbacks of the server test share, given to C as `user_data` (one `Arc` per registration).
struct Ctx {
    server: AtomicPtr<ferrio_server>,
    kept: AtomicPtr<ferrio_socket>,
    registered: AtomicUsize,
    freed: AtomicUsize,
    report: Mutex<mpsc::Sender<String>>,
}

impl Ctx {
    /// A context whose reports arrive on the returned receiver.
    fn new() -> (Arc<Ctx>, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel();
        let ctx = Arc::new(Ctx {
            server: AtomicPtr::new(null_mut()),
            kept: AtomicPtr::new(null_mut()),
            registered: AtomicUsize::new(0),
            freed: AtomicUsize::new(0),
            report: Mutex::new(tx),
        });
        (ctx, rx)
    }

    fn say(&self, text: String) {
        let _ = self.report.lock().unwrap().send(text);
    }
}

fn ud(ctx: &Arc<Ctx>) -> *mut c_void {
    ctx.registered.fetch_add(1, Ordering::SeqCst);
    Arc::into_raw(ctx.clone()) as *mut c_void
}

unsafe extern "C" fn free_ctx(user_data: *mut c_void) {
    // SAFETY: made by `ud` with `Arc::into_raw`; ferrio calls this exactly once per registration.
    let ctx = unsafe { Arc::from_raw(user_data as *const Ctx) };
    ctx.freed.fetch_add(1, Ordering::SeqCst);
}

fn ctx_of<'a>(user_data: *mut c_void) -> &'a Ctx {
    // SAFETY: a live `Arc<Ctx>` given as user data (freed only after the last callback).
    unsafe { &*(user_data as *const Ctx) }
}

unsafe extern "C" fn on_connection(user_data: *mut c_void, socket: *const ferrio_socket) {
    let ctx = ctx_of(user_data);
    // SAFETY: the Arc behind `user_data` lives during the callback.
    let arc = unsafe {
        Arc::increment_strong_count(user_data as *const Ctx);
        Arc::from_raw(user_data as *const Ctx)
    };
    ctx.say(format!(
        "thread: {}",
        std::thread::current().name().unwrap_or("unnamed")
    ));
    let bad = [0xc3u8, 0x28];
    let s = ferrio_socket_emit(socket, bad.as_ptr().cast(), 2, null(), 0, null(), 0);
    ctx.say(format!("emit bad utf8: {s:?}"));
    let s = ferrio_socket_emit(
        socket,
        c"x".as_ptr(),
        NUL,
        c"{\"a\":1}".as_ptr(),
        NUL,
        null(),
        0,
    );
    ctx.say(format!("emit object: {s:?}"));
    let s = ferrio_socket_emit(socket, c"x".as_ptr(), NUL, c"[1,".as_ptr(), NUL, null(), 0);
    ctx.say(format!("emit broken json: {s:?}"));
    let s = ferrio_socket_emit(socket, c"connect".as_ptr(), NUL, null(), 0, null(), 0);
    ctx.say(format!("emit reserved: {s:?}"));
    let s = ferrio_socket_set_data(socket, c"{not json".as_ptr(), NUL);
    ctx.say(format!("set_data broken json: {s:?}"));
    let s = ferrio_socket_on(
        socket,
        c"ev".as_ptr(),
        NUL,
        Some(on_ev),
        ud(&arc),
        Some(free_ctx),
    );
    ctx.say(format!("on ev: {s:?}"));
    // Replacing a handler releases the previous one's user data.
    let s = ferrio_socket_on(
        socket,
        c"ev".as_ptr(),
        NUL,
        Some(on_ev),
        ud(&arc),
        Some(free_ctx),
    );
    ctx.say(format!("on ev again: {s:?}"));
    let s = ferrio_socket_on_disconnect(socket, Some(on_disconnect), ud(&arc), Some(free_ctx));
    ctx.say(format!("on disconnect: {s:?}"));
    let mut kept = null_mut();
    let s = ferrio_socket_clone(socket, &mut kept);
    ctx.say(format!("clone: {s:?}"));
    ctx.kept.store(kept, Ordering::SeqCst);
}

unsafe extern "C" fn on_ev(
    user_data: *mut c_void,
    socket: *const ferrio_socket,
    _event: ferrio_str,
    args: *const ferrio_payload,
    ack: *mut ferrio_ack,
) {
    let ctx = ctx_of(user_data);
    // SAFETY: the payload and its JSON view live during the callback.
    let json = unsafe { CStr::from_ptr((*args).json.ptr) }
        .to_str()
        .unwrap();
    if json == "[0]" {
        // A send that fails on its arguments consumes the ack all the same.
        let s = ferrio_ack_send(ack, c"[1,".as_ptr(), NUL, null(), 0);
        ctx.say(format!("ack broken json: {s:?}"));
        let s = ferrio_ack_send(ack, c"[\"ok\"]".as_ptr(), NUL, null(), 0);
        ctx.say(format!("ack after a failed send: {s:?}"));
        let s = ferrio_ack_free(ack);
        ctx.say(format!("ack free after a failed send: {s:?}"));
        return;
    }
    payload_misuse(ctx, socket, args);
    let s = ferrio_ack_send(ack, c"[\"ok\"]".as_ptr(), NUL, null(), 0);
    ctx.say(format!("ack: {s:?}"));
    let s = ferrio_ack_send(ack, c"[\"again\"]".as_ptr(), NUL, null(), 0);
    ctx.say(format!("ack twice: {s:?}"));
    let s = ferrio_ack_free(ack);
    ctx.say(format!("ack free after send: {s:?}"));
    let server = ctx.server.load(Ordering::SeqCst);
    let s = ferrio_server_free(server);
    ctx.say(format!("free inside callback: {s:?}"));
    let s = ferrio_server_dispatch(server, 0, null_mut());
    ctx.say(format!("dispatch outside manual mode: {s:?}"));
    let s = ferrio_server_listen(server, c"127.0.0.1".as_ptr(), NUL, 0, null_mut());
    ctx.say(format!("listen inside callback: {s:?}"));
    let s = ferrio_server_close(server);
    ctx.say(format!("close inside callback: {s:?}"));
}

/// The per-argument calls and `ferrio_socket_auth` given what a careless C program gives them; `args` is
/// the event's `[1]`.
fn payload_misuse(ctx: &Ctx, socket: *const ferrio_socket, args: *const ferrio_payload) {
    let text = |view: ferrio_str| {
        // SAFETY: a NUL-terminated view, valid during the callback.
        unsafe { CStr::from_ptr(view.ptr) }
            .to_string_lossy()
            .into_owned()
    };
    let mut count = 0usize;
    let s = ferrio_payload_arg_count(args, &mut count);
    ctx.say(format!("arg count: {s:?} {count}"));
    let s = ferrio_payload_arg_count(null(), &mut count);
    ctx.say(format!("arg count of NULL: {s:?}"));
    let s = ferrio_payload_arg_count(args, null_mut());
    ctx.say(format!("arg count into NULL: {s:?}"));
    let mut arg = ferrio_str {
        ptr: null(),
        len: 0,
    };
    let s = ferrio_payload_arg(args, 0, &mut arg);
    ctx.say(format!("arg 0: {s:?} {}", text(arg)));
    let before = arg.ptr;
    let s = ferrio_payload_arg(args, 1, &mut arg);
    ctx.say(format!(
        "arg 1: {s:?} {} (out untouched: {})",
        last_error(),
        arg.ptr == before
    ));
    let s = ferrio_payload_arg(args, usize::MAX, &mut arg);
    ctx.say(format!("arg usize::MAX: {s:?}"));
    let mut bytes = ferrio_bytes {
        ptr: null(),
        len: 0,
    };
    let s = ferrio_payload_arg_binary(args, 0, &mut bytes);
    ctx.say(format!("binary arg 0: {s:?} {}", last_error()));
    let s = ferrio_payload_arg_binary(args, 0, null_mut());
    ctx.say(format!("binary arg into NULL: {s:?}"));
    // SAFETY: the payload lives during the callback.
    let mut own = unsafe { *args };
    own.internal = null();
    let s = ferrio_payload_arg(&own, 0, &mut arg);
    ctx.say(format!(
        "arg of a payload not ferrio's: {s:?} {}",
        last_error()
    ));
    let mut auth = ferrio_str {
        ptr: null(),
        len: 0,
    };
    let s = ferrio_socket_auth(socket, &mut auth);
    ctx.say(format!("auth: {s:?} {}", text(auth)));
    let s = ferrio_socket_auth(null(), &mut auth);
    ctx.say(format!("auth of NULL: {s:?}"));
    let s = ferrio_socket_auth(socket, null_mut());
    ctx.say(format!("auth into NULL: {s:?}"));
}

unsafe extern "C" fn on_disconnect(
    user_data: *mut c_void,
    _socket: *const ferrio_socket,
    reason: ferrio_str,
) {
    // SAFETY: a view valid during the callback.
    let reason = unsafe { std::slice::from_raw_parts(reason.ptr.cast::<u8>(), reason.len) };
    ctx_of(user_data).say(format!("disconnect: {}", String::from_utf8_lossy(reason)));
}

/// Listens on a free loopback port; returns it.
fn listen(server: *const ferrio_server) -> u16 {
    let mut port = 0u16;
    assert_eq!(
        ferrio_server_listen(server, c"127.0.0.1".as_ptr(), NUL, 0, &mut port),
        ferrio_status::Ok
    );
    port
}

/// The runtime the test's WebSocket clients run on.
fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket client of the server on `port` that has asked to join the main namespace.
async fn joined_client(port: u16) -> Client {
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("connect in time")
    .expect("connect");
    ws.send(Message::Text("40".into())).await.unwrap();
    ws
}

fn expect(rx: &mpsc::Receiver<String>, wanted: &str) {
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("no report in time; wanted {wanted:?}"));
    assert_eq!(got, wanted);
}

#[test]
fn misuse_inside_callbacks_gives_statuses_and_user_data_is_freed_once() {
    misuse_inside_callbacks(ferrio_dispatch_mode::Thread);
}

#[test]
fn misuse_inside_inline_callbacks_gives_statuses_and_user_data_is_freed_once() {
    misuse_inside_callbacks(ferrio_dispatch_mode::Inline);
}

fn misuse_inside_callbacks(mode: ferrio_dispatch_mode) {
    let inline = mode == ferrio_dispatch_mode::Inline;
    let (ctx, rx) = Ctx::new();
    let mut options = null_mut();
    assert_eq!(ferrio_server_options_new(&mut options), ferrio_status::Ok);
    assert_eq!(
        ferrio_server_options_set_worker_threads(options, 1),
        ferrio_status::Ok
    );
    assert_eq!(
        ferrio_server_options_set_dispatch_mode(options, mode as u32),
        ferrio_status::Ok
    );
    let mut server = null_mut();
    assert_eq!(ferrio_server_new(options, &mut server), ferrio_status::Ok);
    ferrio_server_options_free(options);
    ctx.server.store(server, Ordering::SeqCst);
    let mut fd = 0;
    assert_eq!(
        ferrio_server_fd(server, &mut fd),
        ferrio_status::InvalidState
    );

    let mut nsp = null_mut();
    assert_eq!(
        ferrio_server_of(server, c"/".as_ptr(), NUL, &mut nsp),
        ferrio_status::Ok
    );
    assert_eq!(
        ferrio_namespace_on_connection(nsp, Some(on_connection), ud(&ctx), Some(free_ctx)),
        ferrio_status::Ok
    );
    let port = listen(server);
    assert_eq!(
        ferrio_server_listen(server, c"127.0.0.1".as_ptr(), NUL, 0, null_mut()),
        ferrio_status::InvalidState
    );

    let rt = client_runtime();
    let frames = rt.block_on(async move {
        let mut ws = joined_client(port).await;
        ws.send(Message::Text("420[\"ev\",0]".into()))
            .await
            .unwrap();
        ws.send(Message::Text("421[\"ev\",1]".into()))
            .await
            .unwrap();
        let mut frames = Vec::new();
        // Until the server closes the connection (the callback calls ferrio_server_close).
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_secs(10), ws.next()).await
        {
            if let Message::Text(text) = message {
                frames.push(text.as_str().to_owned());
            }
        }
        frames
    });
    assert!(
        frames.iter().any(|f| f == "431[\"ok\"]"),
        "frames: {frames:?}"
    );
    assert!(
        !frames
            .iter()
            .any(|f| f.contains("again") || f.starts_with("430")),
        "frames: {frames:?}"
    );

    // Inline: on the network thread, where listening again would wait for itself.
    let (thread, listen) = if inline {
        (
            "thread: ferrio-worker",
            "listen inside callback: WouldDeadlock",
        )
    } else {
        (
            "thread: ferrio-callbacks",
            "listen inside callback: InvalidState",
        )
    };
    for wanted in [
        thread,
        "emit bad utf8: InvalidUtf8",
        "emit object: InvalidJson",
        "emit broken json: InvalidJson",
        "emit reserved: ReservedEvent",
        "set_data broken json: InvalidJson",
        "on ev: Ok",
        "on ev again: Ok",
        "on disconnect: Ok",
        "clone: Ok",
        "ack broken json: InvalidJson",
        "ack after a failed send: AlreadyUsed",
        "ack free after a failed send: AlreadyUsed",
        "arg count: Ok 1",
        "arg count of NULL: NullArgument",
        "arg count into NULL: NullArgument",
        "arg 0: Ok 1",
        "arg 1: InvalidArgument argument 1 is out of range: the payload has 1 argument (out untouched: true)",
        "arg usize::MAX: InvalidArgument",
        "binary arg 0: InvalidArgument argument 0 is not binary (not a placeholder of an attachment)",
        "binary arg into NULL: NullArgument",
        "arg of a payload not ferrio's: InvalidArgument this payload was not made by ferrio (its `internal` \
         field is NULL): the argument accessors read the payloads handed to callbacks, and copies of them",
        "auth: Ok {}",
        "auth of NULL: NullArgument",
        "auth into NULL: NullArgument",
        "ack: Ok",
        "ack twice: AlreadyUsed",
        "ack free after send: AlreadyUsed",
        "free inside callback: WouldDeadlock",
        "dispatch outside manual mode: InvalidState",
        listen,
        "close inside callback: Ok",
        "disconnect: server shutting down",
    ] {
        expect(&rx, wanted);
    }

    let kept = ctx.kept.load(Ordering::SeqCst);
    assert!(!kept.is_null());
    assert_eq!(ferrio_server_free(server), ferrio_status::Ok);
    // Every registration's user data was released by the free, exactly once.
    assert_eq!(
        ctx.freed.load(Ordering::SeqCst),
        ctx.registered.load(Ordering::SeqCst)
    );
    assert_eq!(ctx.registered.load(Ordering::SeqCst), 4);
    // Handles that outlive the server report it instead of crashing.
    assert_eq!(
        ferrio_socket_emit(kept, c"x".as_ptr(), NUL, null(), 0, null(), 0),
        ferrio_status::ServerGone
    );
    assert_eq!(
        ferrio_namespace_on_connection(nsp, Some(on_connection), ud(&ctx), Some(free_ctx)),
        ferrio_status::ServerGone
    );
    assert_eq!(
        ctx.freed.load(Ordering::SeqCst),
        ctx.registered.load(Ordering::SeqCst)
    );
    assert!(last_error().contains("freed"));
    ferrio_socket_free(kept);
    ferrio_namespace_free(nsp);
    assert_eq!(Arc::strong_count(&ctx), 1);
}

#[test]
fn manual_mode_runs_callbacks_on_the_dispatching_thread() {
    let mut options = null_mut();
    assert_eq!(ferrio_server_options_new(&mut options), ferrio_status::Ok);
    assert_eq!(
        ferrio_server_options_set_dispatch_mode(options, 1),
        ferrio_status::Ok
    );
    let mut server = null_mut();
    assert_eq!(ferrio_server_new(options, &mut server), ferrio_status::Ok);
    ferrio_server_options_free(options);
    let mut fd = -1;
    assert_eq!(ferrio_server_fd(server, &mut fd), ferrio_status::Ok);
    assert!(fd >= 0);
    let mut count = 99;
    assert_eq!(
        ferrio_server_dispatch(server, 0, &mut count),
        ferrio_status::Ok
    );
    assert_eq!(count, 0);
    assert_eq!(ferrio_server_free(server), ferrio_status::Ok);
}

/// A dynamic-namespace predicate (it runs on a network thread) that tries the calls which wait for the
/// network threads.
unsafe extern "C" fn waiting_predicate(
    user_data: *mut c_void,
    _name: ferrio_str,
    _auth: ferrio_str,
) -> bool {
    let ctx = ctx_of(user_data);
    let server = ctx.server.load(Ordering::SeqCst);
    let s = ferrio_server_listen(server, c"127.0.0.1".as_ptr(), NUL, 0, null_mut());
    ctx.say(format!("listen in predicate: {s:?} {}", last_error()));
    let s = ferrio_server_free(server);
    ctx.say(format!("free in predicate: {s:?} {}", last_error()));
    false
}

#[test]
fn calls_that_wait_for_the_network_threads_refuse_to_run_on_them() {
    for workers in [1, 2] {
        let (ctx, rx) = Ctx::new();
        let mut options = null_mut();
        assert_eq!(ferrio_server_options_new(&mut options), ferrio_status::Ok);
        assert_eq!(
            ferrio_server_options_set_worker_threads(options, workers),
            ferrio_status::Ok
        );
        let mut server = null_mut();
        assert_eq!(ferrio_server_new(options, &mut server), ferrio_status::Ok);
        ferrio_server_options_free(options);
        ctx.server.store(server, Ordering::SeqCst);
        let mut dynamic = null_mut();
        assert_eq!(
            ferrio_server_of_dynamic(
                server,
                Some(waiting_predicate),
                ud(&ctx),
                Some(free_ctx),
                &mut dynamic
            ),
            ferrio_status::Ok
        );
        let port = listen(server);
        client_runtime().block_on(async move {
            let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            ws.send(Message::Text("40/dyn,".into())).await.unwrap();
            // The predicate said no: CONNECT_ERROR.
            while let Ok(Some(Ok(message))) =
                tokio::time::timeout(Duration::from_secs(5), ws.next()).await
            {
                if message.to_text().unwrap_or("").starts_with("44/dyn,") {
                    break;
                }
            }
        });
        for (i, wanted) in ["listen in predicate", "free in predicate"]
            .iter()
            .enumerate()
        {
            let got = rx.recv_timeout(Duration::from_secs(10)).expect("a report");
            assert!(
                got.starts_with(&format!("{wanted}: WouldDeadlock")),
                "{i}: {got}"
            );
            assert!(got.contains("network threads"), "{got}");
        }
        // The server was left alone: it still serves, and frees normally.
        assert_eq!(handshake_status(port), 200);
        assert_eq!(ferrio_server_free(server), ferrio_status::Ok);
        ferrio_namespace_free(dynamic);
        assert_eq!(
            ctx.freed.load(Ordering::SeqCst),
            ctx.registered.load(Ordering::SeqCst)
        );
    }
}

unsafe extern "C" fn ask_without_deadline(user_data: *mut c_void, socket: *const ferrio_socket) {
    let ctx = ctx_of(user_data);
    // SAFETY: the Arc behind `user_data` lives during the callback.
    let arc = unsafe {
        Arc::increment_strong_count(user_data as *const Ctx);
        Arc::from_raw(user_data as *const Ctx)
    };
    let s = ferrio_socket_emit_with_ack(
        socket,
        c"q".as_ptr(),
        NUL,
        null(),
        0,
        null(),
        0,
        FERRIO_NO_TIMEOUT,
        Some(answered),
        ud(&arc),
        Some(free_ctx),
    );
    ctx.say(format!("emit_with_ack: {s:?}"));
}

unsafe extern "C" fn answered(
    user_data: *mut c_void,
    status: ferrio_status,
    response: *const ferrio_payload,
) {
    let json = if response.is_null() {
        "-".to_owned()
    } else {
        // SAFETY: the response view lives during the callback.
        unsafe { CStr::from_ptr((*response).json.ptr) }
            .to_string_lossy()
            .into_owned()
    };
    ctx_of(user_data).say(format!("answer: {status:?} {json}"));
}

#[test]
fn emit_with_ack_without_a_deadline_outlasts_the_default_timeout() {
    let (ctx, rx) = Ctx::new();
    let mut server = null_mut();
    assert_eq!(ferrio_server_new(null(), &mut server), ferrio_status::Ok);
    let mut nsp = null_mut();
    assert_eq!(
        ferrio_server_of(server, c"/".as_ptr(), NUL, &mut nsp),
        ferrio_status::Ok
    );
    assert_eq!(
        ferrio_namespace_on_connection(nsp, Some(ask_without_deadline), ud(&ctx), Some(free_ctx)),
        ferrio_status::Ok
    );
    let port = listen(server);
    let rt = client_runtime();
    rt.block_on(async move {
        let mut ws = joined_client(port).await;
        // The question's ack id, then an answer after the default deadline (5 s) has passed.
        let id = loop {
            let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("the question in time")
                .expect("open")
                .unwrap();
            if let Some(rest) = message.to_text().unwrap_or("").strip_prefix("42") {
                break rest.split('[').next().unwrap().to_owned();
            }
        };
        tokio::time::sleep(Duration::from_millis(5500)).await;
        ws.send(Message::Text(format!("43{id}[\"late\"]").into()))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    expect(&rx, "emit_with_ack: Ok");
    expect(&rx, "answer: Ok [\"late\"]");
    assert_eq!(ferrio_server_free(server), ferrio_status::Ok);
    ferrio_namespace_free(nsp);
    assert_eq!(
        ctx.freed.load(Ordering::SeqCst),
        ctx.registered.load(Ordering::SeqCst)
    );
}

static INLINE_REPORT: Mutex<Option<mpsc::Sender<String>>> = Mutex::new(None);
static INLINE_KEPT: AtomicPtr<ferrio_socket> = AtomicPtr::new(null_mut());

fn inline_say(text: String) {
    if let Some(tx) = INLINE_REPORT.lock().unwrap().as_ref() {
        let _ = tx.send(text);
    }
}

fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_owned()
}

unsafe extern "C" fn inline_connection(_: *mut c_void, socket: *const ferrio_socket) {
    let mut kept = null_mut();
    assert_eq!(ferrio_socket_clone(socket, &mut kept), ferrio_status::Ok);
    INLINE_KEPT.store(kept, Ordering::SeqCst);
    ferrio_socket_on(
        socket,
        c"echo".as_ptr(),
        NUL,
        Some(inline_echo),
        null_mut(),
        None,
    );
    ferrio_socket_on_disconnect(socket, Some(inline_disconnect), null_mut(), None);
    inline_say(format!("connection on {}", thread_name()));
}

unsafe extern "C" fn inline_echo(
    _: *mut c_void,
    socket: *const ferrio_socket,
    _: ferrio_str,
    args: *const ferrio_payload,
    ack: *mut ferrio_ack,
) {
    // SAFETY: valid during the callback.
    let args = unsafe { &*args };
    // The arguments handed back as they came: reused, not re-parsed.
    let s = ferrio_socket_emit(
        socket,
        c"echo".as_ptr(),
        NUL,
        args.json.ptr,
        args.json.len,
        args.attachments,
        args.attachment_count,
    );
    // Twice: the second emit of the same views must be as good as the first.
    let again = ferrio_socket_emit(
        socket,
        c"echo".as_ptr(),
        NUL,
        args.json.ptr,
        NUL,
        args.attachments,
        args.attachment_count,
    );
    if !ack.is_null() {
        ferrio_ack_free(ack);
    }
    inline_say(format!("echo {s:?} {again:?} on {}", thread_name()));
}

unsafe extern "C" fn inline_disconnect(
    _: *mut c_void,
    _: *const ferrio_socket,
    reason: ferrio_str,
) {
    // SAFETY: a view valid during the callback.
    let reason = unsafe { std::slice::from_raw_parts(reason.ptr.cast::<u8>(), reason.len) };
    inline_say(format!(
        "disconnect: {} on {}",
        String::from_utf8_lossy(reason),
        thread_name()
    ));
}

#[test]
fn inline_mode_runs_every_callback_on_the_network_thread() {
    let mut options = null_mut();
    assert_eq!(ferrio_server_options_new(&mut options), ferrio_status::Ok);
    assert_eq!(
        ferrio_server_options_set_dispatch_mode(options, 2),
        ferrio_status::Ok
    );
    // One network thread runs the callbacks: more workers would break "one thread, in order".
    assert_eq!(
        ferrio_server_options_set_worker_threads(options, 2),
        ferrio_status::Ok
    );
    let mut server = null_mut();
    assert_eq!(
        ferrio_server_new(options, &mut server),
        ferrio_status::InvalidArgument
    );
    assert!(last_error().contains("worker_threads"), "{}", last_error());
    assert_eq!(
        ferrio_server_options_set_worker_threads(options, 0),
        ferrio_status::Ok
    );
    assert_eq!(ferrio_server_new(options, &mut server), ferrio_status::Ok);
    ferrio_server_options_free(options);
    let mut fd = 0;
    assert_eq!(
        ferrio_server_fd(server, &mut fd),
        ferrio_status::InvalidState
    );
    let (tx, rx) = mpsc::channel();
    *INLINE_REPORT.lock().unwrap() = Some(tx);
    let mut nsp = null_mut();
    assert_eq!(
        ferrio_server_of(server, c"/".as_ptr(), NUL, &mut nsp),
        ferrio_status::Ok
    );
    assert_eq!(
        ferrio_namespace_on_connection(nsp, Some(inline_connection), null_mut(), None),
        ferrio_status::Ok
    );
    let port = listen(server);
    let rt = client_runtime();
    let frames = rt.block_on(async move {
        let mut ws = joined_client(port).await;
        ws.send(Message::Text("42[\"echo\",1,{\"a\":[2]}]".into()))
            .await
            .unwrap();
        let mut frames = Vec::new();
        // The two echoes, then the disconnect ("41") asked for from another thread below.
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_secs(10), ws.next()).await
        {
            if let Message::Text(text) = message {
                let text = text.as_str().to_owned();
                let echoes = text.starts_with("42");
                let gone = text == "41";
                frames.push(text);
                if gone {
                    break;
                }
                if echoes && frames.iter().filter(|f| f.starts_with("42")).count() == 2 {
                    // From this (non-network) thread: the disconnect callback still runs on the
                    // network thread.
                    let kept = INLINE_KEPT.load(Ordering::SeqCst);
                    assert_eq!(ferrio_socket_disconnect(kept, false), ferrio_status::Ok);
                }
            }
        }
        frames
    });
    let echoes: Vec<_> = frames.iter().filter(|f| f.starts_with("42")).collect();
    assert_eq!(
        echoes,
        ["42[\"echo\",1,{\"a\":[2]}]", "42[\"echo\",1,{\"a\":[2]}]"],
        "frames: {frames:?}"
    );
    assert!(frames.iter().any(|f| f == "41"), "frames: {frames:?}");
    let got = |rx: &mpsc::Receiver<String>| rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(got(&rx), "connection on ferrio-worker");
    assert_eq!(got(&rx), "echo Ok Ok on ferrio-worker");
    assert_eq!(
        got(&rx),
        "disconnect: server namespace disconnect on ferrio-worker"
    );
    ferrio_socket_free(INLINE_KEPT.swap(null_mut(), Ordering::SeqCst));
    ferrio_namespace_free(nsp);
    assert_eq!(ferrio_server_free(server), ferrio_status::Ok);
    *INLINE_REPORT.lock().unwrap() = None;
}

/// One polling handshake over a blocking socket: the status code of the answer.
fn handshake_status(port: u16) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(
            b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn every_limit_can_be_set_and_max_connections_takes_effect() {
    let mut options = null_mut();
    assert_eq!(ferrio_server_options_new(&mut options), ferrio_status::Ok);
    let ok = ferrio_status::Ok;
    assert_eq!(
        ferrio_server_options_set_upgrade_timeout_ms(options, 5000),
        ok
    );
    assert_eq!(ferrio_server_options_set_allow_upgrades(options, true), ok);
    assert_eq!(
        ferrio_server_options_set_max_queued_packets(options, 512),
        ok
    );
    assert_eq!(ferrio_server_options_set_max_attachments(options, 4), ok);
    assert_eq!(ferrio_server_options_set_max_json_depth(options, 64), ok);
    assert_eq!(ferrio_server_options_set_max_headers(options, 50), ok);
    assert_eq!(
        ferrio_server_options_set_max_header_bytes(options, 16384),
        ok
    );
    assert_eq!(
        ferrio_server_options_set_header_read_timeout_ms(options, 3000),
        ok
    );
    assert_eq!(
        ferrio_server_options_set_max_connections_per_ip(options, 0),
        ok
    );
    assert_eq!(
        ferrio_server_options_set_max_namespaces_per_connection(options, 8),
        ok
    );
    assert_eq!(ferrio_server_options_set_max_pending_acks(options, 16), ok);
    assert_eq!(ferrio_server_options_set_rate_limit(options, 100.0, 20), ok);
    assert_eq!(ferrio_server_options_set_max_connections(options, 2), ok);
    // Out of range: recorded by the setter, refused by `ferrio_server_new` with the option's name; set
    // right again, the options make a server.
    let rate_limit = "rate_limit needs events per second > 0 (finite) and a burst of at least 1";
    assert_eq!(ferrio_server_options_set_rate_limit(options, 0.0, 1), ok);
    assert_eq!(refused(options), rate_limit);
    assert_eq!(
        ferrio_server_options_set_rate_limit(options, f64::NAN, 1),
        ok
    );
    assert_eq!(refused(options), rate_limit);
    assert_eq!(ferrio_server_options_set_rate_limit(options, 10.0, 0), ok);
    assert_eq!(refused(options), rate_limit);
    assert_eq!(ferrio_server_options_set_rate_limit(options, 100.0, 20), ok);
    assert_eq!(ferrio_server_options_set_max_json_depth(options, 0), ok);
    assert_eq!(refused(options), "max_json_depth must be at least 1");
    assert_eq!(ferrio_server_options_set_max_json_depth(options, 64), ok);
    assert_eq!(ferrio_server_options_set_max_queued_packets(options, 0), ok);
    assert_eq!(refused(options), "max_queued_packets must be at least 1");
    assert_eq!(
        ferrio_server_options_set_max_queued_packets(options, 512),
        ok
    );
    assert_eq!(
        ferrio_server_options_set_header_read_timeout_ms(options, 0),
        ok
    );
    assert_eq!(refused(options), "header_read_timeout must be positive");
    assert_eq!(
        ferrio_server_options_set_header_read_timeout_ms(options, 3000),
        ok
    );
    assert_eq!(
        ferrio_server_options_add_cors_origin(options, c"".as_ptr(), NUL, false),
        ok
    );
    assert_eq!(
        refused(options),
        "cors origin \"\" is not an origin like \"https://example.com\" (scheme://host[:port], no path)"
    );
    assert_eq!(ferrio_server_options_set_cors_any(options, false), ok);
    // Connection state recovery: recorded as given, checked by the core.
    let recovery = ferrio_server_options_set_connection_state_recovery;
    assert_eq!(recovery(options, 0, true, 10_000), ok);
    assert_eq!(
        refused(options),
        "max_disconnection_duration must be positive"
    );
    assert_eq!(recovery(options, 120_000, true, 0), ok);
    assert_eq!(refused(options), "max_stored_packets must be at least 1");
    assert_eq!(recovery(options, u64::MAX, false, 1), ok);
    assert!(
        refused(options).starts_with("max_disconnection_duration must be at most"),
        "{}",
        last_error()
    );
    assert_eq!(recovery(options, 120_000, true, 10_000), ok);
    assert_eq!(
        recovery(null_mut(), 120_000, true, 10_000),
        ferrio_status::NullArgument
    );
    assert_eq!(
        ferrio_server_options_set_max_connections(null_mut(), 2),
        ferrio_status::NullArgument
    );

    let mut server = null_mut();
    assert_eq!(ferrio_server_new(options, &mut server), ok);
    ferrio_server_options_free(options);
    let port = listen(server);
    // Two sessions fit; the third handshake is refused.
    assert_eq!(handshake_status(port), 200);
    assert_eq!(handshake_status(port), 200);
    assert_eq!(handshake_status(port), 503);
    assert_eq!(ferrio_server_free(server), ok);
}

#[test]
fn http_compression_is_recorded_as_given() {
    let config = |set: &dyn Fn(*mut ferrio_server_options)| {
        let mut options = null_mut();
        assert_eq!(ferrio_server_options_new(&mut options), ferrio_status::Ok);
        set(options);
        let mut server = null_mut();
        assert_eq!(ferrio_server_new(options, &mut server), ferrio_status::Ok);
        ferrio_server_options_free(options);
        // SAFETY: a live server made just above.
        let compression = unsafe { &*server }
            .shared
            .server
            .config()
            .engine
            .http_compression;
        assert_eq!(ferrio_server_free(server), ferrio_status::Ok);
        compression
    };
    let set = ferrio_server_options_set_http_compression;
    assert_eq!(
        config(&|_| ()),
        Some(ferrio_core::HttpCompression::new()),
        "on by default"
    );
    assert_eq!(
        config(&|o| assert_eq!(set(o, true, 64), ferrio_status::Ok)),
        Some(ferrio_core::HttpCompression::new().threshold(64))
    );
    assert_eq!(
        config(&|o| assert_eq!(set(o, false, 64), ferrio_status::Ok)),
        None
    );
    assert_eq!(set(null_mut(), true, 1024), ferrio_status::NullArgument);
}

unsafe extern "C" fn on_limited_connection(user_data: *mut c_void, socket: *const ferrio_socket) {
    let ctx = ctx_of(user_data);
    // SAFETY: the Arc behind `user_data` lives during the callback.
    let arc = unsafe {
        Arc::increment_strong_count(user_data as *const Ctx);
        Arc::from_raw(user_data as *const Ctx)
    };
    let deep = format!("[{}1{}]", "[".repeat(10), "]".repeat(10));
    let s = ferrio_socket_emit(
        socket,
        c"deep".as_ptr(),
        NUL,
        deep.as_ptr().cast(),
        deep.len(),
        null(),
        0,
    );
    ctx.say(format!("emit deep: {s:?} ({})", last_error()));
    let s = ferrio_socket_emit(
        socket,
        c"flat".as_ptr(),
        NUL,
        c"[[1]]".as_ptr(),
        NUL,
        null(),
        0,
    );
    ctx.say(format!("emit flat: {s:?}"));
    let s = ferrio_socket_on_disconnect(socket, Some(on_disconnect), ud(&arc), Some(free_ctx));
    ctx.say(format!("on disconnect: {s:?}"));
}

#[test]
fn json_depth_and_rate_limit_take_effect_through_the_abi() {
    let (ctx, rx) = Ctx::new();
    let mut options = null_mut();
    assert_eq!(ferrio_server_options_new(&mut options), ferrio_status::Ok);
    assert_eq!(
        ferrio_server_options_set_max_json_depth(options, 4),
        ferrio_status::Ok
    );
    assert_eq!(
        ferrio_server_options_set_rate_limit(options, 1.0, 3),
        ferrio_status::Ok
    );
    let mut server = null_mut();
    assert_eq!(ferrio_server_new(options, &mut server), ferrio_status::Ok);
    ferrio_server_options_free(options);
    let mut nsp = null_mut();
    assert_eq!(
        ferrio_server_of(server, c"/".as_ptr(), NUL, &mut nsp),
        ferrio_status::Ok
    );
    assert_eq!(
        ferrio_namespace_on_connection(nsp, Some(on_limited_connection), ud(&ctx), Some(free_ctx)),
        ferrio_status::Ok
    );
    let port = listen(server);
    let rt = client_runtime();
    rt.block_on(async move {
        let mut ws = joined_client(port).await;
        // The connection callback has run once its emit arrives: then the flood.
        loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) if text.as_str() == "42[\"flat\",[1]]" => break,
                Ok(Some(Ok(_))) => {}
                other => panic!("no flat event: {other:?}"),
            }
        }
        for i in 0..20 {
            if ws
                .send(Message::Text(format!("42[\"flood\",{i}]").into()))
                .await
                .is_err()
            {
                break;
            }
        }
        // Until the server closes the connection.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        }
    });
    expect(
        &rx,
        "emit deep: LimitExceeded (the arguments nest deeper than max_json_depth allows)",
    );
    expect(&rx, "emit flat: Ok");
    expect(&rx, "on disconnect: Ok");
    expect(&rx, "disconnect: rate limit exceeded");
    ferrio_namespace_free(nsp);
    assert_eq!(ferrio_server_free(server), ferrio_status::Ok);
    assert_eq!(
        ctx.freed.load(Ordering::SeqCst),
        ctx.registered.load(Ordering::SeqCst)
    );
}

/// A redis-server of the test's own on a free port (never 6379), killed on drop.
struct RedisServer(std::process::Child, u16);

impl RedisServer {
    fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed (make test installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return RedisServer(child, port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_server(url: &str) -> (*mut ferrio_server, u16) {
    let mut options = null_mut();
    assert_eq!(ferrio_server_options_new(&mut options), ferrio_status::Ok);
    assert_eq!(
        ferrio_server_options_set_redis_adapter(
            options,
            url.as_ptr().cast(),
            url.len(),
            null(),
            0,
            2000
        ),
        ferrio_status::Ok
    );
    let mut server = null_mut();
    assert_eq!(ferrio_server_new(options, &mut server), ferrio_status::Ok);
    ferrio_server_options_free(options);
    let port = listen(server);
    (server, port)
}

#[test]
fn the_redis_adapter_option_joins_two_servers_and_refuses_a_bad_url() {
    let mut options = null_mut();
    assert_eq!(ferrio_server_options_new(&mut options), ferrio_status::Ok);
    let bad = "http://not-redis";
    assert_eq!(
        ferrio_server_options_set_redis_adapter(
            options,
            bad.as_ptr().cast(),
            bad.len(),
            null(),
            0,
            0
        ),
        ferrio_status::InvalidArgument
    );
    assert!(
        last_error().contains("invalid Redis URL"),
        "{}",
        last_error()
    );
    // The prefix is checked where the adapter's other options are (ferrio-redis), not here.
    let url = "redis://127.0.0.1:1";
    assert_eq!(
        ferrio_server_options_set_redis_adapter(
            options,
            url.as_ptr().cast(),
            url.len(),
            "".as_ptr().cast(),
            0,
            0
        ),
        ferrio_status::InvalidArgument
    );
    assert_eq!(last_error(), "prefix must not be empty");
    assert_eq!(
        ferrio_server_options_set_redis_adapter(options, null(), 0, null(), 0, 0),
        ferrio_status::InvalidArgument
    );
    ferrio_server_options_free(options);

    let redis = RedisServer::start();
    let url = format!("redis://127.0.0.1:{}", redis.1);
    let (a, _) = redis_server(&url);
    let (b, port_b) = redis_server(&url);
    let mut nsp_a = null_mut();
    assert_eq!(
        ferrio_server_of(a, c"/".as_ptr(), NUL, &mut nsp_a),
        ferrio_status::Ok
    );

    let rt = client_runtime();
    let received = rt.block_on(async move {
        let mut ws = joined_client(port_b).await;
        // Until the CONNECT answer, then broadcast from A (retrying while A's Redis link comes up).
        loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if t.starts_with("40") => break,
                Ok(Some(Ok(_))) => continue,
                other => panic!("no CONNECT answer: {other:?}"),
            }
        }
        // A's link and B's subscription come up on their own: broadcast from A until B hears it.
        for _ in 0..100 {
            let mut broadcast = null_mut();
            assert_eq!(
                ferrio_namespace_broadcast(nsp_a, &mut broadcast),
                ferrio_status::Ok
            );
            let status = ferrio_broadcast_emit(
                broadcast,
                c"hello".as_ptr(),
                NUL,
                c"[\"from A\"]".as_ptr(),
                NUL,
                null(),
                0,
            );
            ferrio_broadcast_free(broadcast);
            if status != ferrio_status::Ok {
                assert_eq!(status, ferrio_status::AdapterError);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let heard = tokio::time::timeout(Duration::from_millis(200), async {
                loop {
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) if t.as_str() != "2" => {
                            return Some(t.as_str().to_owned())
                        }
                        Some(Ok(_)) => continue,
                        _ => return None,
                    }
                }
            })
            .await;
            if let Ok(Some(text)) = heard {
                return text;
            }
        }
        panic!("B never heard A's broadcast");
    });
    assert_eq!(received, "42[\"hello\",\"from A\"]");
    ferrio_namespace_free(nsp_a);
    assert_eq!(ferrio_server_free(a), ferrio_status::Ok);
    assert_eq!(ferrio_server_free(b), ferrio_status::Ok);
}
