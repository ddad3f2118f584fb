//! The ferrio chat example: a small multi-room chat server.
//!
//! [`build_server`] wires every handler; `main.rs` only resolves the directories, listens and waits for
//! Ctrl-C. The event contract (shared with the C, Python and Node examples and with the page in
//! `examples/static/`) is described in `examples/README.md`:
//!
//! | client → server | argument | ack |
//! |---|---|---|
//! | `nick` | `"name"` | `{ok, id, nick}` or `{error}` |
//! | `join` | `"room"` | `{ok, room}` or `{error}` |
//! | `leave` | `"room"` | `{ok, room}` or `{error}` |
//! | `message` | `{room, text}` | `{ok}` or `{error}` |
//! | `private` | `{to, text}` | `{ok}` or `{error}` |
//!
//! | server → client | argument |
//! |---|---|
//! | `rooms` | `[{name, count}]` — public rooms only, sorted by name |
//! | `users` | `[{id, nick}]` — users who picked a nickname, sorted by nickname |
//! | `message` | `{room, from, text, time}` |
//! | `private` | `{from: {id, nick}, to: {id, nick}, text, time}` |
//! | `notice` | `{room, text, time}` |

use ferrio::{AckSender, Namespace, Payload, Server, Sid, Socket};
use ferrio_admin::{AdminAuth, AdminOptions, Instrument};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// The longest nickname or room name, in characters.
pub const MAX_NAME_CHARS: usize = 32;
/// The longest message, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The page shared by every chat example: `examples/static/`.
pub fn default_static_dir() -> PathBuf {
    repo_root().join("examples/static")
}

/// The browser client installed by `npm install` at the repository root.
pub fn default_client_dir() -> PathBuf {
    repo_root().join("node_modules/socket.io-client/dist")
}

/// The admin UI's built files, installed by `npm install` at the repository root.
pub fn default_admin_ui_dir() -> PathBuf {
    repo_root().join("node_modules/@socket.io/admin-ui/ui/dist")
}

/// The admin UI's login name in the demo.
pub const ADMIN_USER: &str = "admin";

/// Instruments the chat for the official admin UI: namespace `/admin`, login [`ADMIN_USER`] with
/// `password` (kept only as a bcrypt hash), and the UI served at `/admin/` when `ui_dir` is given.
pub fn instrument_admin(
    io: &Server,
    password: &str,
    ui_dir: Option<PathBuf>,
) -> Result<(), ferrio_admin::AdminError> {
    let hash = ferrio_admin::hash_password(password)?;
    let mut options = AdminOptions::new(AdminAuth::basic(ADMIN_USER, hash));
    options.ui_dir = ui_dir;
    io.instrument(options)
}

/// The chat's own state: who picked which nickname, and a wake-up for the task that pushes the room
/// and user lists when they change.
#[derive(Default)]
struct Chat {
    users: Mutex<HashMap<Sid, String>>,
    changed: Notify,
    presence_started: OnceLock<()>,
}

impl Chat {
    fn users(&self) -> MutexGuard<'_, HashMap<Sid, String>> {
        // A panic elsewhere never leaves the map half-updated, so a poisoned lock is still usable.
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn nick(&self, sid: Sid) -> Option<String> {
        self.users().get(&sid).cloned()
    }

    /// Claims a nickname (case-insensitively unique among connected users).
    fn set_nick(&self, sid: Sid, nick: &str) -> Result<String, String> {
        let nick = validate_name(nick, "nickname")?;
        let mut users = self.users();
        let taken = users
            .iter()
            .any(|(other, name)| *other != sid && name.to_lowercase() == nick.to_lowercase());
        if taken {
            return Err("that nickname is already taken".into());
        }
        users.insert(sid, nick.clone());
        drop(users);
        self.changed.notify_one();
        Ok(nick)
    }

    fn remove(&self, sid: Sid) {
        if self.users().remove(&sid).is_some() {
            self.changed.notify_one();
        }
    }

    fn user_list(&self) -> Value {
        let mut list: Vec<(String, Sid)> = self
            .users()
            .iter()
            .map(|(sid, nick)| (nick.clone(), *sid))
            .collect();
        list.sort();
        list.into_iter()
            .map(|(nick, id)| json!({"id": id, "nick": nick}))
            .collect()
    }
}

/// The public rooms and their sizes, sorted by name (the sockets' private id rooms left out).
fn room_list(nsp: &Namespace) -> Value {
    nsp.rooms(false)
        .into_iter()
        .map(|(name, count)| json!({"name": &*name, "count": count}))
        .collect()
}

/// Pushes `rooms` and `users` to everybody whenever they differ from what was last pushed. One task
/// does it so that the lists go out in the order they were computed.
async fn push_presence(chat: Arc<Chat>, nsp: Namespace) {
    let mut last_rooms = Value::Null;
    let mut last_users = Value::Null;
    loop {
        chat.changed.notified().await;
        let rooms = room_list(&nsp);
        if rooms != last_rooms {
            let _ = nsp.emit("rooms", payload(&rooms));
            last_rooms = rooms;
        }
        let users = chat.user_list();
        if users != last_users {
            let _ = nsp.emit("users", payload(&users));
            last_users = users;
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn payload(value: &Value) -> Payload {
    Payload::one(value).unwrap_or_default()
}

fn answer(ack: Option<AckSender>, result: Result<Value, String>) {
    let Some(ack) = ack else {
        return;
    };
    let body = match result {
        Ok(mut value) => {
            if let Value::Object(map) = &mut value {
                map.insert("ok".into(), Value::Bool(true));
            }
            value
        }
        Err(error) => json!({ "error": error }),
    };
    let _ = ack.send(payload(&body));
}

/// A nickname or room name: trimmed, non-empty, at most [`MAX_NAME_CHARS`], no control characters.
fn validate_name(raw: &str, what: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(format!("the {what} must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "the {what} is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("the {what} contains control characters"));
    }
    Ok(name.to_owned())
}

fn validate_room(raw: &Value) -> Result<String, String> {
    let Value::String(raw) = raw else {
        return Err("the room name must be a string".into());
    };
    let room = validate_name(raw, "room name")?;
    if Sid::parse(&room).is_some() {
        // Such a name could be a socket's private room.
        return Err("that room name is reserved".into());
    }
    Ok(room)
}

fn validate_text(raw: Option<&Value>) -> Result<String, String> {
    let Some(Value::String(text)) = raw else {
        return Err("text must be a string".into());
    };
    let text = text.trim();
    if text.is_empty() {
        return Err("the message is empty".into());
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(format!(
            "the message is longer than {MAX_TEXT_CHARS} characters"
        ));
    }
    Ok(text.to_owned())
}

fn in_room(socket: &Socket, room: &str) -> bool {
    socket.rooms().iter().any(|r| &**r == room)
}

fn notice(nsp: &Namespace, room: &str, text: String) {
    let body = json!({"room": room, "text": text, "time": now_ms()});
    let _ = nsp.to(room).emit("notice", payload(&body));
}

/// The first argument (`null` when there is none or the payload is malformed).
fn first_arg(event: &ferrio::Event) -> Value {
    event.payload.first::<Value>().unwrap_or(Value::Null)
}

fn on_nick(chat: &Chat, socket: &Socket, arg: &Value) -> Result<Value, String> {
    let Value::String(raw) = arg else {
        return Err("the nickname must be a string".into());
    };
    let nick = chat.set_nick(socket.id(), raw)?;
    Ok(json!({"id": socket.id(), "nick": nick}))
}

fn on_join(chat: &Chat, socket: &Socket, arg: &Value) -> Result<Value, String> {
    let nick = chat.nick(socket.id()).ok_or("pick a nickname first")?;
    let room = validate_room(arg)?;
    if !in_room(socket, &room) {
        socket.join(room.clone());
        notice(&socket.namespace(), &room, format!("{nick} joined"));
    }
    Ok(json!({ "room": room }))
}

fn on_leave(chat: &Chat, socket: &Socket, arg: &Value) -> Result<Value, String> {
    let nick = chat.nick(socket.id()).ok_or("pick a nickname first")?;
    let Value::String(room) = arg else {
        return Err("the room name must be a string".into());
    };
    if Sid::parse(room).is_some() || !in_room(socket, room) {
        return Err("you are not in that room".into());
    }
    socket.leave(room.as_str());
    notice(&socket.namespace(), room, format!("{nick} left"));
    Ok(json!({ "room": room }))
}

fn on_message(chat: &Chat, socket: &Socket, arg: &Value) -> Result<Value, String> {
    let nick = chat.nick(socket.id()).ok_or("pick a nickname first")?;
    let Value::Object(arg) = arg else {
        return Err("expected {room, text}".into());
    };
    let Some(Value::String(room)) = arg.get("room") else {
        return Err("room must be a string".into());
    };
    let text = validate_text(arg.get("text"))?;
    if Sid::parse(room).is_some() || !in_room(socket, room) {
        return Err("join the room first".into());
    }
    let body = json!({"room": room, "from": nick, "text": text, "time": now_ms()});
    socket
        .namespace()
        .to(room.as_str())
        .emit("message", payload(&body))
        .map_err(|e| e.to_string())?;
    Ok(json!({}))
}

fn on_private(chat: &Chat, socket: &Socket, arg: &Value) -> Result<Value, String> {
    let nick = chat.nick(socket.id()).ok_or("pick a nickname first")?;
    let Value::Object(arg) = arg else {
        return Err("expected {to, text}".into());
    };
    let Some(Value::String(to)) = arg.get("to") else {
        return Err("to must be a socket id".into());
    };
    let text = validate_text(arg.get("text"))?;
    let target = Sid::parse(to).ok_or("no such user")?;
    let target_nick = chat.nick(target).ok_or("no such user")?;
    let body = json!({
        "from": {"id": socket.id(), "nick": nick},
        "to": {"id": target, "nick": target_nick},
        "text": text,
        "time": now_ms(),
    });
    // The target and the sender (once, should they be the same).
    socket
        .namespace()
        .to(vec![target, socket.id()])
        .emit("private", payload(&body))
        .map_err(|e| e.to_string())?;
    Ok(json!({}))
}

type Action = fn(&Chat, &Socket, &Value) -> Result<Value, String>;

fn connected(chat: &Arc<Chat>, socket: Socket) {
    chat.presence_started.get_or_init(|| {
        tokio::spawn(push_presence(chat.clone(), socket.namespace()));
    });
    // The newcomer gets the current lists; later changes reach everybody.
    let _ = socket.emit("rooms", payload(&room_list(&socket.namespace())));
    let _ = socket.emit("users", payload(&chat.user_list()));

    let actions: [(&str, Action); 5] = [
        ("nick", on_nick),
        ("join", on_join),
        ("leave", on_leave),
        ("message", on_message),
        ("private", on_private),
    ];
    for (name, action) in actions {
        let chat = chat.clone();
        socket.on(name, move |socket, event| {
            let result = action(&chat, &socket, &first_arg(&event));
            answer(event.ack, result);
            async {}
        });
    }

    let c = chat.clone();
    socket.on_disconnecting(move |socket, _reason| {
        // The rooms are still visible here.
        let Some(nick) = c.nick(socket.id()) else {
            return;
        };
        let own = socket.id();
        let mut rooms: Vec<ferrio::Room> = socket
            .rooms()
            .into_iter()
            .filter(|room| &**room != own.as_str())
            .collect();
        rooms.sort();
        let nsp = socket.namespace();
        for room in rooms {
            notice(&nsp, &room, format!("{nick} is leaving"));
        }
    });
    let c = chat.clone();
    socket.on_disconnect(move |socket, _reason| c.remove(socket.id()));
}

/// Builds the chat server on the main namespace. `static_dir` is served at `/` (the page) and
/// `client_dir` (a `socket.io-client/dist` directory) at `/socket.io/socket.io.js`; pass `None` to skip
/// either. Listen with [`Server::listen`] inside a Tokio runtime.
pub fn build_server(static_dir: Option<PathBuf>, client_dir: Option<PathBuf>) -> Server {
    let mut builder = Server::builder();
    if let Some(dir) = static_dir {
        builder = builder.static_dir(dir);
    }
    if let Some(dir) = client_dir {
        builder = builder.client_dir(dir);
    }
    // Only directories are set, which are not checked: the other options keep their valid defaults.
    let io = builder.build().expect("the default options are valid");
    let chat = Arc::new(Chat::default());
    let nsp = io.of("/");
    let c = chat.clone();
    nsp.on_room_event(move |_| c.changed.notify_one());
    nsp.on_connection(move |socket| connected(&chat, socket));
    io
}
