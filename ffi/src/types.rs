//! The plain data that crosses the boundary — string and byte views, payloads — and the checked
//! conversions of C arguments into Rust values.

use crate::payload::Args;
use crate::status::{ferrio_status, Error};
use bytes::Bytes;
use ferrio_core::Payload;
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_void};

/// Passed as a length: "the string is NUL-terminated; measure it" (`FERRIO_NUL_TERMINATED` in the
/// header, defined there as `SIZE_MAX`).
pub(crate) const FERRIO_NUL_TERMINATED: usize = usize::MAX;

/// A borrowed UTF-8 string view handed to a callback: `ptr[len]` is always a NUL byte, so `ptr` can
/// also be used as a C string (the text itself contains no NUL unless the JSON escapes one).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrio_str {
    /// The first byte; never NULL.
    pub ptr: *const c_char,
    /// The length in bytes, terminator excluded.
    pub len: usize,
}

impl ferrio_str {
    /// A view of `text`, which must end with a NUL byte not counted in the view.
    pub(crate) fn from_terminated(text: &str) -> ferrio_str {
        debug_assert!(text.ends_with('\0'));
        ferrio_str {
            ptr: text.as_ptr().cast(),
            len: text.len() - 1,
        }
    }
}

/// A borrowed byte view: an input attachment, or an attachment handed to a callback.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrio_bytes {
    /// The first byte (may be NULL when `len` is 0).
    pub ptr: *const u8,
    /// The length in bytes.
    pub len: usize,
}

/// The arguments of an event or of an ack, in socket.io's wire convention: the JSON text of the
/// arguments array, in which each binary argument is a placeholder `{"_placeholder":true,"num":N}`
/// referring to `attachments[N]`. Everything is borrowed for the duration of the callback. One argument
/// at a time: `ferrio_payload_arg_count`, `ferrio_payload_arg`, `ferrio_payload_arg_binary`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrio_payload {
    /// The JSON text of the arguments array (NUL-terminated, see `ferrio_str`).
    pub json: ferrio_str,
    /// The binary attachments, `attachment_count` of them (NULL when there are none).
    pub attachments: *const ferrio_bytes,
    /// How many attachments there are.
    pub attachment_count: usize,
    /// ferrio's own: what the `ferrio_payload_arg*` calls read. Leave it as ferrio set it (copying the
    /// whole struct is fine); NULL in a payload you fill in yourself.
    pub internal: *const c_void,
}

/// A payload as C sees it during a callback. The payload itself is kept: when C hands exactly these
/// views back (an echo, a relay, an ack answered with what came in), [`payload_arg`] reuses it, with no
/// copy of the attachments and no second validation of the JSON.
pub(crate) struct PayloadView {
    /// `None` once handed back to ferrio (see [`PayloadView::same`]).
    payload: RefCell<Option<Payload>>,
    json: Terminated,
    views: Vec<ferrio_bytes>,
    /// Where `ferrio_payload.internal` points: the per-argument index, made on demand.
    args: Args,
}

impl PayloadView {
    pub(crate) fn new(payload: Payload) -> PayloadView {
        let json = Terminated::new(payload.args_json());
        let views = payload
            .attachments()
            .iter()
            .map(|b| ferrio_bytes {
                ptr: b.as_ptr(),
                len: b.len(),
            })
            .collect::<Vec<_>>();
        // Both point to heap buffers, which stay where they are when `json` and `views` move.
        let args = Args::new(json.view(), &views);
        PayloadView {
            payload: RefCell::new(Some(payload)),
            json,
            views,
            args,
        }
    }

    /// The view; valid while `self` lives and stays where it is (its `internal` points into `self`;
    /// [`PayloadView::enter`], held during the callback, borrows `self` and so pins it).
    pub(crate) fn raw(&self) -> ferrio_payload {
        ferrio_payload {
            json: self.json.view(),
            attachments: if self.views.is_empty() {
                std::ptr::null()
            } else {
                self.views.as_ptr()
            },
            attachment_count: self.views.len(),
            internal: (&self.args as *const Args).cast(),
        }
    }

    /// Makes this the payload [`payload_arg`] recognizes on this thread until the guard drops.
    pub(crate) fn enter(&self) -> Entered<'_> {
        Entered {
            previous: SEEN.replace(self as *const PayloadView),
            _view: std::marker::PhantomData,
        }
    }

    /// The payload, if (json, attachments) are exactly the views this one handed out. The first time,
    /// a payload without attachments is moved out rather than copied (C sees the NUL-terminated copy of
    /// its text, not the payload itself); with attachments it is cloned, as C may still be reading them.
    fn same(
        &self,
        json: *const c_char,
        json_len: usize,
        attachments: *const ferrio_bytes,
        count: usize,
    ) -> Option<Payload> {
        let text = self.json.view();
        let same_json =
            json == text.ptr && (json_len == text.len || json_len == FERRIO_NUL_TERMINATED);
        let same_attachments = count == self.views.len()
            && (count == 0 || std::ptr::eq(attachments, self.views.as_ptr()));
        if !(same_json && same_attachments) {
            return None;
        }
        let mut slot = self.payload.borrow_mut();
        match slot.as_ref() {
            Some(payload) if payload.attachments().is_empty() => slot.take(),
            Some(payload) => Some(payload.clone()),
            // Moved out by an earlier call: the caller validates the text like any other.
            None => None,
        }
    }
}

thread_local! {
    /// The payload of the event whose callbacks run on this thread now (NULL: none); see
    /// [`PayloadView::enter`].
    static SEEN: Cell<*const PayloadView> = const { Cell::new(std::ptr::null()) };
    /// Buffers for [`Terminated`], reused so that an event's views cost no allocation.
    static BUFFERS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Restores the previously recognized payload when dropped; borrows the view, which therefore cannot
/// move or drop while it is recognized.
pub(crate) struct Entered<'a> {
    previous: *const PayloadView,
    _view: std::marker::PhantomData<&'a PayloadView>,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        SEEN.set(self.previous);
    }
}

/// A NUL-terminated copy of some text in a buffer taken from (and given back to) this thread's pool.
pub(crate) struct Terminated(String);

impl Terminated {
    /// Buffers larger than this are not kept for reuse.
    const KEEP_BELOW: usize = 64 * 1024;
    /// At most this many buffers are kept per thread.
    const KEEP: usize = 4;

    pub(crate) fn new(text: &str) -> Terminated {
        let mut buffer = BUFFERS
            .with_borrow_mut(|pool| pool.pop())
            .unwrap_or_default();
        buffer.clear();
        buffer.reserve(text.len() + 1);
        buffer.push_str(text);
        buffer.push('\0');
        Terminated(buffer)
    }

    /// The view; valid while `self` lives.
    pub(crate) fn view(&self) -> ferrio_str {
        ferrio_str::from_terminated(&self.0)
    }
}

impl Drop for Terminated {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.0);
        if buffer.capacity() <= Self::KEEP_BELOW {
            // `try_with`: a thread being torn down simply frees the buffer.
            let _ = BUFFERS.try_with(|pool| {
                let mut pool = pool.borrow_mut();
                if pool.len() < Self::KEEP {
                    pool.push(buffer);
                }
            });
        }
    }
}

/// Owned text with a NUL terminator, for `ferrio_str` views.
pub(crate) fn terminated(text: &str) -> String {
    let mut owned = String::with_capacity(text.len() + 1);
    owned.push_str(text);
    owned.push('\0');
    owned
}

/// Frees C user data exactly once: when the owner is dropped.
pub(crate) struct UserData {
    pub(crate) ptr: *mut c_void,
    free: ferrio_user_data_free,
}

// SAFETY: the C contract (include/README.md) says user data passed to ferrio may be used from the
// callback thread and released from whichever thread drops the last reference; ferrio never reads it.
unsafe impl Send for UserData {}
// SAFETY: as above; ferrio only hands the pointer back to C.
unsafe impl Sync for UserData {}

impl UserData {
    pub(crate) fn new(ptr: *mut c_void, free: ferrio_user_data_free) -> UserData {
        UserData { ptr, free }
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free.take() {
            // SAFETY: `free` is the caller's finalizer for `ptr`; `take` guarantees it runs once.
            unsafe { free(self.ptr) }
        }
    }
}

/// Releases `user_data` (called exactly once, see `include/README.md`).
pub type ferrio_user_data_free = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// A C callback with its user data. `F` is a non-NULL function pointer type.
pub(crate) struct Callback<F: Copy> {
    pub(crate) f: F,
    pub(crate) user_data: UserData,
}

impl<F: Copy> Callback<F> {
    /// Takes ownership of the user data first, so it is freed (once) even when `f` is NULL.
    pub(crate) fn new(
        f: Option<F>,
        user_data: *mut c_void,
        free: ferrio_user_data_free,
        what: &str,
    ) -> Result<Callback<F>, Error> {
        let user_data = UserData::new(user_data, free);
        let f = f.ok_or_else(|| Error::null(what))?;
        Ok(Callback { f, user_data })
    }

    pub(crate) fn ud(&self) -> *mut c_void {
        self.user_data.ptr
    }
}

/// A required string argument: (ptr, len) or (ptr, `FERRIO_NUL_TERMINATED`).
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes (or a NUL-terminated string), valid for `'a`.
pub(crate) unsafe fn str_arg<'a>(
    ptr: *const c_char,
    len: usize,
    what: &str,
) -> Result<&'a str, Error> {
    if ptr.is_null() {
        if len == 0 {
            return Ok("");
        }
        return Err(Error::null(what));
    }
    let bytes = if len == FERRIO_NUL_TERMINATED {
        // SAFETY: the caller promises a NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr(ptr) }.to_bytes()
    } else {
        // SAFETY: the caller promises `len` readable bytes at `ptr`.
        unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }
    };
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            ferrio_status::InvalidUtf8,
            format!("`{what}` is not valid UTF-8: {e}"),
        )
    })
}

/// A JSON value argument (any JSON).
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn json_arg(
    ptr: *const c_char,
    len: usize,
    what: &str,
) -> Result<serde_json::Value, Error> {
    // SAFETY: forwarded contract.
    let text = unsafe { str_arg(ptr, len, what) }?;
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            ferrio_status::InvalidJson,
            format!("`{what}` is not valid JSON: {e}"),
        )
    })
}

/// Event arguments: the JSON text of an array (NULL/empty means no arguments) and the attachments.
///
/// # Safety
/// As [`str_arg`]; `attachments` must be NULL or point to `count` views, each of `len` readable bytes.
pub(crate) unsafe fn payload_arg(
    json: *const c_char,
    json_len: usize,
    attachments: *const ferrio_bytes,
    count: usize,
) -> Result<Payload, Error> {
    let seen = SEEN.get();
    if !seen.is_null() {
        // SAFETY: `SEEN` is set only while the view it points to is alive on this thread's stack
        // (`PayloadView::enter`).
        if let Some(payload) = unsafe { &*seen }.same(json, json_len, attachments, count) {
            return Ok(payload);
        }
    }
    // SAFETY: forwarded contract.
    let text = unsafe { str_arg(json, json_len, "json") }?;
    let mut parts = Vec::with_capacity(count);
    if count > 0 {
        if attachments.is_null() {
            return Err(Error::null("attachments"));
        }
        // SAFETY: the caller promises `count` views at `attachments`.
        let views = unsafe { std::slice::from_raw_parts(attachments, count) };
        for (i, view) in views.iter().enumerate() {
            if view.ptr.is_null() && view.len > 0 {
                return Err(Error::null(&format!("attachments[{i}].ptr")));
            }
            if view.len == 0 {
                parts.push(Bytes::new());
            } else {
                // SAFETY: the caller promises `len` readable bytes at `ptr`.
                let data = unsafe { std::slice::from_raw_parts(view.ptr, view.len) };
                parts.push(Bytes::copy_from_slice(data));
            }
        }
    }
    let text = if text.trim().is_empty() { "[]" } else { text };
    Payload::from_json(text, parts).map_err(|e| {
        Error::from(e).context("`json` must be the JSON text of an array of arguments")
    })
}

/// Copies `text` and a NUL terminator into a caller buffer.
///
/// # Safety
/// `buf` must be NULL or point to `cap` writable bytes; `written` must be NULL or writable.
pub(crate) unsafe fn write_text(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> Result<(), Error> {
    let needed = text.len() + 1;
    if !written.is_null() {
        // SAFETY: the caller promises `written` is writable. Written on success and on
        // BUFFER_TOO_SMALL alike: that is how the caller learns the size to allocate.
        unsafe { *written = needed };
    }
    if buf.is_null() || cap < needed {
        return Err(Error::new(
            ferrio_status::BufferTooSmall,
            format!("the buffer holds {cap} bytes; {needed} are needed"),
        ));
    }
    // SAFETY: `buf` holds at least `needed` bytes, and `text` cannot overlap a caller buffer.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        *buf.add(text.len()) = 0;
    }
    Ok(())
}

/// Writes an out-parameter (only on success, by the convention).
///
/// # Safety
/// `out` must be NULL (checked) or writable.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T, what: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: checked non-NULL; the caller promises it is writable.
    unsafe { out.write(value) };
    Ok(())
}

/// Borrows a handle argument.
///
/// # Safety
/// `ptr` must be NULL or a live handle of type `T` made by this library.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: the caller promises a live handle or NULL.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::null(what))
}
