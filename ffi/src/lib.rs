//! # ferrio-ffi: the C ABI of ferrio
//!
//! `libferrio.so` / `libferrio.a` and `include/ferrio.h` (generated from this crate by a pinned
//! cbindgen: `make header`). The conventions — ownership, threading, errors — are in
//! `include/README.md`; in short: opaque handles named `ferrio_<object>_<verb>`, one `ferrio_status`
//! returned by every fallible call, out-parameters written only on success, the last error's message
//! per thread, strings and bytes as (pointer, length), callbacks as (function, `user_data`,
//! `user_data_free`) with `user_data_free` called exactly once, and every callback of a server run on
//! one thread in FIFO order.
//!
//! Every exported function catches panics (`status::guard`), so none unwinds into C.

// The C ABI is safe by contract (the header's), not by the type system: exported functions take raw
// pointers, checked for NULL and otherwise trusted, as in every C library.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
// C names (`ferrio_server`, `ferrio_status`) are the header's vocabulary.
#![allow(non_camel_case_types)]
// Mirrors the C API, whose functions take many arguments.
#![allow(clippy::too_many_arguments)]

mod admin;
mod namespace;
mod once;
mod payload;
mod server;
mod socket;
mod status;
mod types;

#[cfg(test)]
mod tests;

pub use admin::*;
pub use namespace::*;
pub use once::*;
pub use payload::*;
pub use server::*;
pub use socket::*;
pub use status::ferrio_status;
pub use types::*;

use std::ffi::c_char;

/// The library's version (the Cargo package version, e.g. "0.1.0"), a static NUL-terminated string.
#[no_mangle]
pub extern "C" fn ferrio_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// A static, NUL-terminated description of a status (never NULL; "unknown status" for values this
/// version does not know).
#[no_mangle]
pub extern "C" fn ferrio_status_str(status: u32) -> *const c_char {
    status::status_text(status).as_ptr()
}

/// Copies this thread's last error message (the detail of the last call on this thread that did not
/// return `FERRIO_STATUS_OK`; "" when there was none) into `buf`, NUL-terminated. `*written` (NULL
/// allowed) gets the size needed, terminator included, also when the buffer is too small
/// (`FERRIO_STATUS_BUFFER_TOO_SMALL`). A buffer of 512 bytes fits nearly every message. This call does
/// not change the last error.
#[no_mangle]
pub extern "C" fn ferrio_last_error(
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> ferrio_status {
    let text = status::last_error();
    match std::panic::catch_unwind(|| {
        // SAFETY: output buffer contract of the header.
        unsafe { types::write_text(&text, buf, len, written) }
    }) {
        Ok(Ok(())) => ferrio_status::Ok,
        Ok(Err(error)) => error.status,
        Err(_) => ferrio_status::Panic,
    }
}
