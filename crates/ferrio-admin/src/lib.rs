//! # ferrio-admin
//!
//! The server side of the official Socket.IO admin UI (`@socket.io/admin-ui`): a namespace (`/admin` by
//! default) that logs the UI in, tells it which commands it may use, streams the server's state to it
//! (server stats every 2 s; in development mode also every socket, room change and event) and carries out
//! its commands (`join`, `leave`, `_disconnect`, `emit`) through the adapter, so they reach every server of
//! a cluster once the adapter spans one.
//!
//! The wire format follows the official instrumentation of socket.io 4 (event names, argument order,
//! feature names, the `"invalid credentials"` refusal, session ids for silent reconnects). Observing the
//! server goes through its one [`Observer`]: an uninstrumented server pays one atomic load per hook point.
//!
//! A crate of its own, on the core's public API only (the [`Observer`] hook, namespaces, broadcast
//! operators): a server that is not instrumented does not build bcrypt.
//!
//! ```no_run
//! use ferrio_admin::{hash_password, AdminAuth, AdminMode, AdminOptions, Instrument};
//!
//! # fn run(io: &ferrio::Server) -> Result<(), ferrio_admin::AdminError> {
//! let mut options = AdminOptions::new(AdminAuth::basic("admin", hash_password("changeit")?));
//! options.mode = AdminMode::Development; // or Production: stats only
//! options.read_only = false;
//! options.ui_dir = Some("node_modules/@socket.io/admin-ui/ui/dist".into()); // served at /admin/
//! io.instrument(options)?;
//! # Ok(()) }
//! ```

use ferrio::adapter::{BoxFuture, BroadcastOptions, Room, RoomEvent};
use ferrio::engineio::{CloseReason, TransportKind};
use ferrio::socketio::{
    ConnectError, DisconnectReason, Event, Namespace, Observer, Payload, RemoteSocket, Server,
    Socket, WeakServer,
};
use parking_lot::Mutex;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How much the admin UI is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AdminMode {
    /// Everything: every socket, room change and event (costly on a busy server).
    #[default]
    Development,
    /// Server stats and aggregated counts only.
    Production,
}

impl std::str::FromStr for AdminMode {
    type Err = AdminError;

    fn from_str(text: &str) -> Result<AdminMode, AdminError> {
        match text {
            "development" => Ok(AdminMode::Development),
            "production" => Ok(AdminMode::Production),
            other => Err(AdminError::InvalidMode(other.to_owned())),
        }
    }
}

/// An accepted password.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Password {
    /// A bcrypt hash (`$2a$`, `$2b$`, `$2y$`), as `@socket.io/admin-ui` expects.
    Bcrypt(String),
    /// The password itself, compared as is (python-socketio's `auth={"username":…, "password":…}`).
    Plain(String),
}

/// One accepted login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: Password,
}

/// A custom check of the UI's auth payload (`{"username":…, "password":…}` as typed in the UI).
pub type AuthCheck = Arc<dyn Fn(Value) -> BoxFuture<'static, bool> + Send + Sync>;

/// How the admin namespace logs the UI in.
#[derive(Clone)]
#[non_exhaustive]
pub enum AdminAuth {
    /// Anyone may connect (never on a reachable server).
    Disabled,
    /// Any of these logins.
    Credentials(Vec<Credentials>),
    /// A function deciding from the auth payload.
    Custom(AuthCheck),
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminAuth::Disabled => f.write_str("Disabled"),
            AdminAuth::Credentials(list) => {
                let names: Vec<&str> = list.iter().map(|c| c.username.as_str()).collect();
                f.debug_tuple("Credentials").field(&names).finish()
            }
            AdminAuth::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl AdminAuth {
    /// `@socket.io/admin-ui`'s `{type: "basic", username, password}`: `password_hash` is a bcrypt hash.
    pub fn basic(username: impl Into<String>, password_hash: impl Into<String>) -> AdminAuth {
        AdminAuth::Credentials(vec![Credentials {
            username: username.into(),
            password: Password::Bcrypt(password_hash.into()),
        }])
    }

    /// A login whose password is given as is.
    pub fn plain(username: impl Into<String>, password: impl Into<String>) -> AdminAuth {
        AdminAuth::Credentials(vec![Credentials {
            username: username.into(),
            password: Password::Plain(password.into()),
        }])
    }
}

/// The options of [`Instrument::instrument`]; the names follow `@socket.io/admin-ui`'s `instrument(io, opts)`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AdminOptions {
    /// The admin namespace (default `/admin`).
    pub namespace: String,
    /// The login.
    pub auth: AdminAuth,
    /// No commands: the command handlers are not registered, as in the official server.
    pub read_only: bool,
    /// Development (everything) or production (stats only).
    pub mode: AdminMode,
    /// The server's id in the UI (default: the host name).
    pub server_id: Option<String>,
    /// How often `server_stats` is sent (default 2 s).
    pub stats_interval: Duration,
    /// The built UI (`@socket.io/admin-ui`'s `ui/dist`), served under `ui_path` when set.
    pub ui_dir: Option<PathBuf>,
    /// Where the UI is served (default `/admin/`).
    pub ui_path: String,
}

impl AdminOptions {
    /// The defaults with this login.
    pub fn new(auth: AdminAuth) -> AdminOptions {
        AdminOptions {
            namespace: "/admin".to_owned(),
            auth,
            read_only: false,
            mode: AdminMode::Development,
            server_id: None,
            stats_interval: Duration::from_secs(2),
            ui_dir: None,
            ui_path: "/admin/".to_owned(),
        }
    }
}

/// Why the server could not be instrumented.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// A `Password::Bcrypt` is not a bcrypt hash.
    #[error("the `password` field must be a valid bcrypt hash")]
    InvalidHash,
    /// `mode` is neither "development" nor "production".
    #[error("invalid mode {0:?}: expected \"development\" or \"production\"")]
    InvalidMode(String),
    /// `instrument` was already called on this server.
    #[error("the server is already instrumented")]
    AlreadyInstrumented,
    /// The UI directory has no `index.html`.
    #[error(
        "no admin UI in {0} (expected index.html there; run `npm install` at the repository root)"
    )]
    MissingUi(PathBuf),
    /// Hashing failed.
    #[error("bcrypt: {0}")]
    Bcrypt(String),
}

impl ferrio::CodedError for AdminError {
    fn code(&self) -> ferrio::ErrorCode {
        match self {
            AdminError::AlreadyInstrumented => ferrio::ErrorCode::InvalidState,
            _ => ferrio::ErrorCode::InvalidArgument,
        }
    }
}

/// A bcrypt hash of `password` (cost 10, as the admin UI's documentation suggests).
pub fn hash_password(password: &str) -> Result<String, AdminError> {
    hash_password_with_cost(password, 10)
}

/// A bcrypt hash of `password` at `cost` (4 to 31; each step doubles the time a login check takes).
pub fn hash_password_with_cost(password: &str, cost: u32) -> Result<String, AdminError> {
    bcrypt::hash(password, cost).map_err(|e| AdminError::Bcrypt(e.to_string()))
}

/// Whether `text` is a bcrypt hash the login can check against.
pub fn is_bcrypt_hash(text: &str) -> bool {
    text.parse::<bcrypt::HashParts>().is_ok()
}

/// The features the UI enables, named as it expects.
fn features(read_only: bool, mode: AdminMode) -> Vec<&'static str> {
    let mut features = if read_only {
        Vec::new()
    } else {
        vec![
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
        ]
    };
    features.push("AGGREGATED_EVENTS");
    if mode == AdminMode::Development {
        features.push("ALL_EVENTS");
    }
    features
}

/// Session ids kept at most (oldest forgotten first): a login's id lets the UI reconnect silently.
const MAX_SESSIONS: usize = 10_000;

#[derive(Default)]
struct Sessions {
    ids: HashSet<String>,
    order: VecDeque<String>,
}

/// Counts of one kind in one second, as the UI's charts take them.
struct Aggregate {
    timestamp: u64,
    kind: &'static str,
    sub_kind: Option<&'static str>,
    count: u64,
}

pub(crate) struct AdminState {
    server: WeakServer,
    nsp: String,
    /// The admin namespace itself, looked up once: every report is emitted there.
    admin: ferrio::socketio::NamespaceRef,
    auth: AdminAuth,
    read_only: bool,
    mode: AdminMode,
    server_id: String,
    hostname: String,
    stats_interval: Duration,
    started: Instant,
    stats_task: Once,
    sessions: Mutex<Sessions>,
    /// Session ids made by the login, to send once the socket is connected.
    new_sessions: Mutex<std::collections::HashMap<ferrio::Sid, String>>,
    aggregates: Mutex<Vec<Aggregate>>,
}

/// Instruments `server` for the admin UI; see [`Instrument::instrument`].
pub fn instrument(server: &Server, options: AdminOptions) -> Result<(), AdminError> {
    if let AdminAuth::Credentials(list) = &options.auth {
        for credentials in list {
            if let Password::Bcrypt(hash) = &credentials.password {
                if !is_bcrypt_hash(hash) {
                    return Err(AdminError::InvalidHash);
                }
            }
        }
    }
    if let Some(dir) = &options.ui_dir {
        if !dir.join("index.html").is_file() {
            return Err(AdminError::MissingUi(dir.clone()));
        }
    }
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    let admin = server.of(&options.namespace);
    let state = Arc::new(AdminState {
        server: server.downgrade(),
        nsp: admin.name().to_owned(),
        admin: admin.downgrade(),
        auth: options.auth,
        read_only: options.read_only,
        mode: options.mode,
        server_id: options.server_id.unwrap_or_else(|| hostname.clone()),
        hostname,
        stats_interval: options.stats_interval.max(Duration::from_millis(10)),
        started: Instant::now(),
        stats_task: Once::new(),
        sessions: Mutex::default(),
        new_sessions: Mutex::default(),
        aggregates: Mutex::default(),
    });
    if server.set_observer(state.clone()).is_err() {
        return Err(AdminError::AlreadyInstrumented);
    }
    let auth_state = state.clone();
    admin.use_middleware(move |socket| {
        let state = auth_state.clone();
        async move { state.authenticate(&socket).await }
    });
    let conn_state = state.clone();
    admin.on_connection(move |socket| conn_state.admin_connected(socket));
    if let Some(dir) = options.ui_dir {
        server.mount_static(&options.ui_path, dir);
    }
    tracing::info!(nsp = %state.nsp, mode = ?state.mode, read_only = state.read_only, "admin UI instrumentation on");
    Ok(())
}

/// `server.instrument(options)`: the admin UI's entry point as a method of [`Server`].
pub trait Instrument {
    /// Instruments the server for the official Socket.IO admin UI: the admin namespace, its login, the
    /// stats and (in development mode) every socket, room and event, and the UI's commands; with
    /// `ui_dir`, also serves the UI itself under `ui_path` on this server's port.
    fn instrument(&self, options: AdminOptions) -> Result<(), AdminError>;
}

impl Instrument for Server {
    fn instrument(&self, options: AdminOptions) -> Result<(), AdminError> {
        instrument(self, options)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `ms` since the epoch as JavaScript's `Date.toJSON()` writes it: `2024-05-06T07:08:09.010Z`.
pub(crate) fn iso_date(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

fn now_iso() -> String {
    iso_date(now_ms())
}

/// The handshake as the UI shows it: the client's address (behind a proxy, the forwarded one), headers,
/// query, times, url, secure and xdomain; never the auth payload.
fn ui_handshake(handshake: &Value) -> Value {
    let field = |name: &str| handshake.get(name).cloned().unwrap_or(Value::Null);
    let header = |name: &str| {
        handshake
            .get("headers")
            .and_then(|h| h.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let address = header("cf-connecting-ip")
        .or_else(|| header("x-forwarded-for"))
        .map(Value::String)
        .unwrap_or_else(|| field("address"));
    json!({
        "address": address,
        "headers": field("headers"),
        "query": field("query"),
        "issued": field("issued"),
        "secure": field("secure"),
        "time": field("time"),
        "url": field("url"),
        "xdomain": field("xdomain"),
    })
}

fn ui_data(data: Value) -> Value {
    if data.is_null() {
        Value::Object(Map::new())
    } else {
        data
    }
}

fn client_id(socket: &Socket) -> String {
    socket.conn_id().as_str().chars().take(12).collect()
}

/// A local socket as the UI lists it.
fn serialize_socket(socket: &Socket) -> Value {
    let mut rooms: Vec<Room> = socket.rooms();
    rooms.sort();
    json!({
        "id": socket.id().as_str(),
        "clientId": client_id(socket),
        "transport": socket.transport().as_str(),
        "nsp": socket.nsp(),
        "data": ui_data(socket.data()),
        "handshake": ui_handshake(&socket.handshake()),
        "rooms": rooms.iter().map(|r| r.as_ref()).collect::<Vec<&str>>(),
    })
}

/// A socket found through the adapter (maybe on another server) as the UI lists it.
fn serialize_remote(socket: &RemoteSocket, nsp: &Namespace) -> Value {
    if let Some(local) = nsp.socket(&socket.id) {
        return serialize_socket(&local);
    }
    let transport = socket
        .handshake
        .get("query")
        .and_then(|q| q.get("transport"))
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "id": socket.id.as_str(),
        "clientId": Value::Null,
        "transport": transport,
        "nsp": nsp.name(),
        "data": ui_data(socket.data.clone()),
        "handshake": ui_handshake(&socket.handshake),
        "rooms": socket.rooms.iter().map(|r| r.as_ref()).collect::<Vec<&str>>(),
    })
}

/// The JSON texts of a payload's arguments (placeholders kept, so the attachments still match).
fn raw_args(payload: &Payload) -> Vec<&RawValue> {
    serde_json::from_str::<Vec<&RawValue>>(payload.args_json()).unwrap_or_default()
}

/// `[nsp, id, [event, ...args], date]`, the arguments of `event_received` / `event_sent`, with the
/// event's own attachments (the arguments' JSON is copied as it is, placeholders included).
fn event_report(nsp: &str, id: &str, event: &str, payload: &Payload) -> Payload {
    /// `[event, ...args]`, the arguments written out verbatim.
    struct EventArgs<'a>(&'a str, Vec<&'a RawValue>);

    impl serde::Serialize for EventArgs<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeSeq;
            let mut seq = serializer.serialize_seq(Some(self.1.len() + 1))?;
            seq.serialize_element(self.0)?;
            for arg in &self.1 {
                seq.serialize_element(arg)?;
            }
            seq.end()
        }
    }

    let args = EventArgs(event, raw_args(payload));
    Payload::from_args(&(nsp, id, args, now_iso()))
        .unwrap_or_default()
        .with_attachments(payload.attachments().to_vec())
}

impl AdminState {
    fn server(&self) -> Option<Server> {
        self.server.upgrade()
    }

    /// An existing namespace (a UI command never creates one).
    fn namespace(&self, name: &str) -> Option<Namespace> {
        self.server()?.get_namespace(name)
    }

    /// The admin namespace while some admin is connected to it (reports are built only then).
    fn listening_admin(&self) -> Option<Namespace> {
        self.admin
            .upgrade()
            .filter(|admin| admin.socket_count() > 0)
    }

    fn emit(&self, event: &str, payload: Payload) {
        if let Some(admin) = self.listening_admin() {
            let _ = admin.emit(event, payload);
        }
    }

    fn emit_args(&self, event: &str, args: Value) {
        if let Ok(payload) = Payload::from_json(args.to_string(), Vec::new()) {
            self.emit(event, payload);
        }
    }

    fn development(&self) -> bool {
        self.mode == AdminMode::Development
    }

    /// Whether socket, room and event reports are wanted now: development mode, and an admin connected
    /// (otherwise nothing is serialized at all).
    fn reporting(&self) -> bool {
        self.development() && self.listening_admin().is_some()
    }

    fn new_session(&self) -> String {
        let id = format!("{:016x}", rand::random::<u64>());
        let mut sessions = self.sessions.lock();
        if sessions.order.len() >= MAX_SESSIONS {
            if let Some(old) = sessions.order.pop_front() {
                sessions.ids.remove(&old);
            }
        }
        sessions.ids.insert(id.clone());
        sessions.order.push_back(id.clone());
        id
    }

    async fn authenticate(&self, socket: &Socket) -> Result<(), ConnectError> {
        let auth = socket.auth().clone();
        let check = match &self.auth {
            AdminAuth::Disabled => return Ok(()),
            AdminAuth::Credentials(list) => list.clone(),
            AdminAuth::Custom(_) => Vec::new(),
        };
        if let Some(session) = auth.get("sessionId").and_then(Value::as_str) {
            if !session.is_empty() && self.sessions.lock().ids.contains(session) {
                return Ok(());
            }
        }
        let ok = match &self.auth {
            AdminAuth::Custom(custom) => custom(auth).await,
            _ => {
                let username = auth.get("username").and_then(Value::as_str).unwrap_or("");
                let password = auth
                    .get("password")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                match check.into_iter().find(|c| c.username == username) {
                    Some(Credentials {
                        password: Password::Plain(expected),
                        ..
                    }) => constant_time_eq(expected.as_bytes(), password.as_bytes()),
                    Some(Credentials {
                        password: Password::Bcrypt(hash),
                        ..
                    }) => {
                        // bcrypt is deliberately slow: keep it off the connection's task.
                        tokio::task::spawn_blocking(move || {
                            bcrypt::verify(password, &hash).unwrap_or(false)
                        })
                        .await
                        .unwrap_or(false)
                    }
                    None => false,
                }
            }
        };
        if !ok {
            tracing::debug!(socket = %socket.id(), "admin UI login refused");
            return Err(ConnectError::new("invalid credentials"));
        }
        let session = self.new_session();
        let mut pending = self.new_sessions.lock();
        if pending.len() >= MAX_SESSIONS {
            // Logins whose sockets never connected: forget them rather than grow.
            pending.clear();
        }
        pending.insert(socket.id(), session);
        Ok(())
    }

    fn admin_connected(self: &Arc<Self>, socket: Socket) {
        // The official server emits the session id from its login middleware, before the CONNECT answer;
        // the UI only listens once connected and so never sees it. Sent first thing after the answer, the
        // UI stores it and reconnects silently after a reload.
        if let Some(session) = self.new_sessions.lock().remove(&socket.id()) {
            if let Ok(payload) = Payload::one(&session) {
                let _ = socket.emit("session", payload);
            }
        }
        if !self.read_only {
            self.register_commands(&socket);
        }
        let config = json!({ "supportedFeatures": features(self.read_only, self.mode) });
        if let Ok(payload) = Payload::one(&config) {
            let _ = socket.emit("config", payload);
        }
        self.start_stats();
        if let Some(stats) = self.stats(false) {
            if let Ok(payload) = Payload::one(&stats) {
                let _ = socket.emit("server_stats", payload);
            }
        }
        if self.development() {
            let state = self.clone();
            tokio::spawn(async move {
                let sockets = state.all_sockets().await;
                if let Ok(payload) = Payload::one(&sockets) {
                    let _ = socket.emit("all_sockets", payload);
                }
            });
        }
    }

    /// Every socket of every namespace, through the adapters (cluster-wide with a cluster adapter).
    async fn all_sockets(&self) -> Vec<Value> {
        let Some(server) = self.server() else {
            return Vec::new();
        };
        let mut namespaces = server.namespaces();
        namespaces.sort_by(|a, b| a.name().cmp(b.name()));
        let mut all = Vec::new();
        for nsp in namespaces {
            match nsp.broadcast_operator().fetch_sockets().await {
                Ok(sockets) => all.extend(sockets.iter().map(|s| serialize_remote(s, &nsp))),
                Err(error) => {
                    tracing::warn!(nsp = nsp.name(), %error, "admin UI: fetch_sockets failed")
                }
            }
        }
        all
    }

    /// The sockets a command targets: the whole namespace, or those in the room (or with the id) `filter`.
    fn target(&self, nsp: &str, filter: Option<&str>) -> Option<ferrio::BroadcastOperator> {
        let nsp = self.namespace(nsp)?;
        Some(match filter {
            Some(filter) if !filter.is_empty() => nsp.to(filter),
            _ => nsp.broadcast_operator(),
        })
    }

    fn register_commands(self: &Arc<Self>, socket: &Socket) {
        let state = self.clone();
        socket.on("join", move |_, event: Event| {
            let state = state.clone();
            async move {
                let args = event.payload.values().unwrap_or_default();
                if let (Some(nsp), Some(room)) = (arg_str(&args, 0), arg_str(&args, 1)) {
                    if let Some(target) = state.target(nsp, arg_str(&args, 2)) {
                        target.sockets_join(room);
                    }
                }
            }
        });
        let state = self.clone();
        socket.on("leave", move |_, event: Event| {
            let state = state.clone();
            async move {
                let args = event.payload.values().unwrap_or_default();
                if let (Some(nsp), Some(room)) = (arg_str(&args, 0), arg_str(&args, 1)) {
                    if let Some(target) = state.target(nsp, arg_str(&args, 2)) {
                        target.sockets_leave(room);
                    }
                }
            }
        });
        let state = self.clone();
        socket.on("_disconnect", move |_, event: Event| {
            let state = state.clone();
            async move {
                let args = event.payload.values().unwrap_or_default();
                if let Some(nsp) = arg_str(&args, 0) {
                    let close = args.get(1).and_then(Value::as_bool).unwrap_or(false);
                    if let Some(target) = state.target(nsp, arg_str(&args, 2)) {
                        target.disconnect_sockets(close);
                    }
                }
            }
        });
        let state = self.clone();
        socket.on("emit", move |_, event: Event| {
            let state = state.clone();
            async move {
                let raw = raw_args(&event.payload);
                let text = |i: usize| -> Option<String> {
                    raw.get(i)
                        .and_then(|r| serde_json::from_str::<String>(r.get()).ok())
                };
                let (Some(nsp), Some(name)) = (text(0), text(2)) else {
                    return;
                };
                let filter = text(1);
                let rest: Vec<&RawValue> = raw.iter().skip(3).copied().collect();
                let payload = Payload::from_args(&rest)
                    .unwrap_or_default()
                    .with_attachments(event.payload.attachments().to_vec());
                if let Some(target) = state.target(&nsp, filter.as_deref()) {
                    if let Err(error) = target.emit(&name, payload) {
                        tracing::debug!(%error, "admin UI emit refused");
                    }
                }
            }
        });
    }

    fn start_stats(self: &Arc<Self>) {
        let state = Arc::downgrade(self);
        let interval = self.stats_interval;
        self.stats_task.call_once(|| {
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    let Some(state) = state.upgrade() else {
                        return;
                    };
                    match state.stats(true) {
                        Some(stats) => state.emit_args("server_stats", json!([stats])),
                        None => return,
                    }
                }
            });
        });
    }

    /// The `server_stats` payload; `drain` takes the aggregated counts (the periodic emit does).
    fn stats(&self, drain: bool) -> Option<Value> {
        let server = self.server()?;
        let mut namespaces: Vec<Value> = server
            .namespaces()
            .iter()
            .map(|n| json!({ "name": n.name(), "socketsCount": n.socket_count() }))
            .collect();
        namespaces.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let aggregated: Vec<Value> = if drain {
            std::mem::take(&mut *self.aggregates.lock())
                .into_iter()
                .map(|a| {
                    let mut value =
                        json!({ "timestamp": a.timestamp, "type": a.kind, "count": a.count });
                    if let Some(sub) = a.sub_kind {
                        value["subType"] = Value::from(sub);
                    }
                    value
                })
                .collect()
        } else {
            Vec::new()
        };
        Some(json!({
            "serverId": self.server_id,
            "hostname": self.hostname,
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": server.connection_count(),
            "pollingClientsCount": server.polling_connection_count(),
            "aggregatedEvents": aggregated,
            "namespaces": namespaces,
        }))
    }

    fn count(&self, kind: &'static str, sub_kind: Option<&'static str>, count: u64) {
        let timestamp = now_ms() / 1000 * 1000;
        let mut aggregates = self.aggregates.lock();
        match aggregates
            .iter_mut()
            .rev()
            .find(|a| a.timestamp == timestamp && a.kind == kind && a.sub_kind == sub_kind)
        {
            Some(a) => a.count += count,
            None => aggregates.push(Aggregate {
                timestamp,
                kind,
                sub_kind,
                count,
            }),
        }
    }
}

fn arg_str(args: &[Value], i: usize) -> Option<&str> {
    args.get(i).and_then(Value::as_str)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Observer for AdminState {
    fn connection_opened(&self, _transport: TransportKind) {
        self.count("rawConnection", None, 1);
    }

    fn connection_closed(&self, reason: CloseReason) {
        self.count("rawDisconnection", Some(reason.as_str()), 1);
    }

    fn connection_upgraded(&self, sockets: &[Socket]) {
        if !self.reporting() {
            return;
        }
        for socket in sockets {
            self.emit_args(
                "socket_updated",
                json!([{ "id": socket.id().as_str(), "nsp": socket.nsp(), "transport": "websocket" }]),
            );
        }
    }

    fn message_received(&self, bytes: usize) {
        self.count("packetsIn", None, 1);
        self.count("bytesIn", None, bytes as u64);
    }

    fn messages_sent(&self, packets: usize, bytes: usize) {
        if packets > 0 {
            self.count("packetsOut", None, packets as u64);
            self.count("bytesOut", None, bytes as u64);
        }
    }

    fn socket_connected(&self, socket: &Socket) {
        if self.reporting() {
            self.emit_args(
                "socket_connected",
                json!([serialize_socket(socket), now_iso()]),
            );
        }
    }

    fn socket_disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        if self.reporting() {
            self.emit_args(
                "socket_disconnected",
                json!([
                    socket.nsp(),
                    socket.id().as_str(),
                    reason.as_str(),
                    now_iso()
                ]),
            );
        }
    }

    fn room_event(&self, nsp: &str, event: &RoomEvent) {
        if !self.reporting() {
            return;
        }
        let (name, room, sid) = match event {
            RoomEvent::JoinRoom(room, sid) => ("room_joined", room, sid),
            RoomEvent::LeaveRoom(room, sid) => ("room_left", room, sid),
            _ => return,
        };
        self.emit_args(name, json!([nsp, room.as_ref(), sid.as_str(), now_iso()]));
    }

    fn event_received(&self, socket: &Socket, event: &str, payload: &Payload) {
        if self.reporting() && socket.nsp() != self.nsp {
            self.emit(
                "event_received",
                event_report(socket.nsp(), socket.id().as_str(), event, payload),
            );
        }
    }

    fn event_sent(&self, socket: &Socket, event: &str, payload: &Payload) {
        if self.reporting() && socket.nsp() != self.nsp {
            self.emit(
                "event_sent",
                event_report(socket.nsp(), socket.id().as_str(), event, payload),
            );
        }
    }

    fn event_broadcast(
        &self,
        nsp: &Namespace,
        opts: &BroadcastOptions,
        event: &str,
        payload: &Payload,
    ) {
        if !self.reporting() || nsp.name() == self.nsp {
            return;
        }
        // Reported per local recipient, as each server of a cluster reports its own deliveries.
        let mut local = opts.clone();
        local.local = true;
        let ids = nsp.adapter().sockets(&local);
        let Some(admin) = self.listening_admin() else {
            return;
        };
        let (nsp, event, payload) = (nsp.name().to_owned(), event.to_owned(), payload.clone());
        tokio::spawn(async move {
            let Ok(ids) = ids.await else {
                return;
            };
            for id in ids {
                let _ = admin.emit(
                    "event_sent",
                    event_report(&nsp, id.as_str(), &event, &payload),
                );
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_javascript_writes_them() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00.000Z");
        // new Date(951782400123).toJSON(): a leap day.
        assert_eq!(iso_date(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso_date(1_733_313_296_789), "2024-12-04T11:54:56.789Z");
    }

    #[test]
    fn features_follow_the_official_order() {
        assert_eq!(features(true, AdminMode::Production), ["AGGREGATED_EVENTS"]);
        assert_eq!(features(false, AdminMode::Development).len(), 9);
    }

    #[test]
    fn the_ui_handshake_prefers_forwarded_addresses_and_hides_auth() {
        let handshake = json!({
            "address": "127.0.0.1",
            "headers": {"x-forwarded-for": "10.1.2.3"},
            "auth": {"token": "secret"},
        });
        let shown = ui_handshake(&handshake);
        assert_eq!(shown["address"], "10.1.2.3");
        assert!(shown.get("auth").is_none());
    }
}
