//! The admin UI instrumentation for C: options filled with setters (as `ferrio_server_options`), then
//! `ferrio_server_instrument`; and a bcrypt helper so a C program can make the hash it configures.

use crate::server::ferrio_server;
use crate::status::{ferrio_status, guard, guard_or, Error};
use crate::types::{handle, str_arg, write_out, write_text};
use ferrio_admin::{AdminAuth, AdminError, AdminMode, AdminOptions, Instrument};
use std::ffi::c_char;
use std::time::Duration;

/// How much the admin UI is told.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferrio_admin_mode {
    /// Every socket, room change and event (the default).
    Development = 0,
    /// Server stats and aggregated counts only.
    Production = 1,
}

/// Admin UI options, filled with setters and read by `ferrio_server_instrument` (which does not take
/// them: free them with `ferrio_admin_options_free`). The login must be chosen: basic (a bcrypt hash)
/// or explicitly disabled.
pub struct ferrio_admin_options {
    options: AdminOptions,
    auth_chosen: bool,
}

/// Makes admin options with the defaults (namespace `/admin`, development mode, stats every 2 s, no UI
/// files served). Free them with `ferrio_admin_options_free`.
#[no_mangle]
pub extern "C" fn ferrio_admin_options_new(out: *mut *mut ferrio_admin_options) -> ferrio_status {
    guard(|| {
        let options = Box::new(ferrio_admin_options {
            options: AdminOptions::new(AdminAuth::Disabled),
            auth_chosen: false,
        });
        // SAFETY: `out` is checked for NULL and otherwise writable by contract.
        unsafe { write_out(out, Box::into_raw(options), "out") }
    })
}

/// Releases admin options. NULL is ignored.
#[no_mangle]
pub extern "C" fn ferrio_admin_options_free(options: *mut ferrio_admin_options) {
    guard_or((), || {
        if !options.is_null() {
            // SAFETY: made by `ferrio_admin_options_new` and not freed before (contract).
            drop(unsafe { Box::from_raw(options) });
        }
    })
}

fn with_admin(
    options: *mut ferrio_admin_options,
    f: impl FnOnce(&mut ferrio_admin_options) -> Result<(), Error>,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live options handle or NULL (contract); not used concurrently (contract).
        let options = unsafe { options.as_mut() }.ok_or_else(|| Error::null("options"))?;
        f(options)
    })
}

/// The login: `username` and the bcrypt hash of its password (`$2a$`/`$2b$`/`$2y$`, e.g. from
/// `ferrio_admin_hash_password`). INVALID_ARGUMENT when `password_hash` is not a bcrypt hash.
#[no_mangle]
pub extern "C" fn ferrio_admin_options_set_basic_auth(
    options: *mut ferrio_admin_options,
    username: *const c_char,
    username_len: usize,
    password_hash: *const c_char,
    password_hash_len: usize,
) -> ferrio_status {
    with_admin(options, |o| {
        // SAFETY: (ptr, len) string arguments, contract of the header.
        let username = unsafe { str_arg(username, username_len, "username") }?.to_owned();
        // SAFETY: as above.
        let hash =
            unsafe { str_arg(password_hash, password_hash_len, "password_hash") }?.to_owned();
        if !ferrio_admin::is_bcrypt_hash(&hash) {
            return Err(Error::new(
                ferrio_status::InvalidArgument,
                AdminError::InvalidHash.to_string(),
            ));
        }
        o.options.auth = AdminAuth::basic(username, hash);
        o.auth_chosen = true;
        Ok(())
    })
}

/// No login: anyone reaching the server may use the admin UI (never on a reachable server).
#[no_mangle]
pub extern "C" fn ferrio_admin_options_disable_auth(
    options: *mut ferrio_admin_options,
) -> ferrio_status {
    with_admin(options, |o| {
        o.options.auth = AdminAuth::Disabled;
        o.auth_chosen = true;
        Ok(())
    })
}

/// The admin namespace (default `/admin`).
#[no_mangle]
pub extern "C" fn ferrio_admin_options_set_namespace(
    options: *mut ferrio_admin_options,
    name: *const c_char,
    name_len: usize,
) -> ferrio_status {
    with_admin(options, |o| {
        // SAFETY: (ptr, len) string argument.
        let name = unsafe { str_arg(name, name_len, "name") }?;
        o.options.namespace = format!("/{}", name.trim_start_matches('/'));
        Ok(())
    })
}

/// Read-only: the UI's commands (join, leave, disconnect, emit) are not offered nor handled.
#[no_mangle]
pub extern "C" fn ferrio_admin_options_set_read_only(
    options: *mut ferrio_admin_options,
    read_only: bool,
) -> ferrio_status {
    with_admin(options, |o| {
        o.options.read_only = read_only;
        Ok(())
    })
}

/// `FERRIO_ADMIN_MODE_DEVELOPMENT` (default) or `FERRIO_ADMIN_MODE_PRODUCTION`.
#[no_mangle]
pub extern "C" fn ferrio_admin_options_set_mode(
    options: *mut ferrio_admin_options,
    mode: u32,
) -> ferrio_status {
    with_admin(options, |o| {
        o.options.mode = match mode {
            0 => AdminMode::Development,
            1 => AdminMode::Production,
            other => {
                return Err(Error::new(
                    ferrio_status::InvalidArgument,
                    format!("unknown admin mode {other}"),
                ))
            }
        };
        Ok(())
    })
}

/// The server's id in the UI (default: the host name).
#[no_mangle]
pub extern "C" fn ferrio_admin_options_set_server_id(
    options: *mut ferrio_admin_options,
    id: *const c_char,
    id_len: usize,
) -> ferrio_status {
    with_admin(options, |o| {
        // SAFETY: (ptr, len) string argument.
        o.options.server_id = Some(unsafe { str_arg(id, id_len, "id") }?.to_owned());
        Ok(())
    })
}

/// How often `server_stats` is sent, in milliseconds (default 2000).
#[no_mangle]
pub extern "C" fn ferrio_admin_options_set_stats_interval_ms(
    options: *mut ferrio_admin_options,
    ms: u64,
) -> ferrio_status {
    with_admin(options, |o| {
        if ms == 0 {
            return Err(Error::new(
                ferrio_status::InvalidArgument,
                "`ms` must be positive",
            ));
        }
        o.options.stats_interval = Duration::from_millis(ms);
        Ok(())
    })
}

/// Serves the built UI (`@socket.io/admin-ui`'s `ui/dist`) from `dir` at `/admin/` on the server's port.
#[no_mangle]
pub extern "C" fn ferrio_admin_options_set_ui_dir(
    options: *mut ferrio_admin_options,
    dir: *const c_char,
    dir_len: usize,
) -> ferrio_status {
    with_admin(options, |o| {
        // SAFETY: (ptr, len) string argument.
        o.options.ui_dir = Some(unsafe { str_arg(dir, dir_len, "dir") }?.into());
        Ok(())
    })
}

/// Instruments `server` for the official Socket.IO admin UI with `options` (copied, not taken); before
/// or after `ferrio_server_listen`. INVALID_ARGUMENT when no login was chosen or the UI directory has no
/// `index.html`; INVALID_STATE when the server is already instrumented.
#[no_mangle]
pub extern "C" fn ferrio_server_instrument(
    server: *const ferrio_server,
    options: *const ferrio_admin_options,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live server handle or NULL (contract).
        let shared = &unsafe { handle(server, "server") }?.shared;
        shared.alive()?;
        // SAFETY: a live options handle or NULL (contract).
        let options = unsafe { handle(options, "options") }?;
        if !options.auth_chosen {
            return Err(Error::new(
                ferrio_status::InvalidArgument,
                "the login must be chosen: ferrio_admin_options_set_basic_auth or ferrio_admin_options_disable_auth",
            ));
        }
        let _enter = shared.rt.enter();
        shared
            .server
            .instrument(options.options.clone())
            .map_err(Error::from)
    })
}

/// Writes the bcrypt hash of the password into `buf` (NUL-terminated; 61 bytes suffice), `*written`
/// (NULL allowed) getting the size needed as for `ferrio_last_error`. `cost` is 4 to 31 (10 is usual;
/// each step doubles the time a login takes to check).
#[no_mangle]
pub extern "C" fn ferrio_admin_hash_password(
    password: *const c_char,
    password_len: usize,
    cost: u32,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: (ptr, len) string argument.
        let password = unsafe { str_arg(password, password_len, "password") }?;
        let hash = ferrio_admin::hash_password_with_cost(password, cost)?;
        // SAFETY: output buffer contract of the header.
        unsafe { write_text(&hash, buf, len, written) }
    })
}
