//! Per-argument access to the payloads ferrio hands to callbacks, so that a handler reading one
//! argument (a token, a room name, a binary upload) need not parse the whole arguments array. The
//! arguments' boundaries are found once per payload, on the first call that needs them, and only then:
//! a handler that reads `json` itself pays nothing.

use crate::status::{ferrio_status, guard, Error};
use crate::types::{ferrio_bytes, ferrio_payload, ferrio_str, handle, write_out};
use serde_json::value::RawValue;
use std::sync::OnceLock;

/// What a payload's `internal` field points to: where its text and attachments are, and their index
/// once made. Lives inside the `PayloadView` that owns the text and the attachment views, for as long as
/// the callback the payload was handed to.
pub(crate) struct Args {
    json: *const u8,
    json_len: usize,
    attachments: *const ferrio_bytes,
    attachment_count: usize,
    /// Made by the first accessor; several threads may ask during the callback.
    index: OnceLock<Result<Index, String>>,
}

impl Args {
    /// `json` (NUL-terminated copy, terminator excluded) and `attachments` must outlive this.
    pub(crate) fn new(json: ferrio_str, attachments: &[ferrio_bytes]) -> Args {
        Args {
            json: json.ptr.cast(),
            json_len: json.len,
            attachments: attachments.as_ptr(),
            attachment_count: attachments.len(),
            index: OnceLock::new(),
        }
    }

    fn index(&self) -> Result<&Index, Error> {
        let built = self.index.get_or_init(|| {
            // SAFETY: the text this was made from outlives it (see `Args::new`).
            let bytes = unsafe { std::slice::from_raw_parts(self.json, self.json_len) };
            let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
            Index::new(text, self.attachment_count)
        });
        built
            .as_ref()
            .map_err(|e| Error::new(ferrio_status::InvalidJson, e.clone()))
    }

    fn attachment(&self, n: usize) -> ferrio_bytes {
        debug_assert!(n < self.attachment_count);
        // SAFETY: `n` is below the count of the attachment views this was made from, which outlive it.
        unsafe { *self.attachments.add(n) }
    }
}

/// The arguments of one payload, each a NUL-terminated copy of its JSON text.
struct Index {
    /// Every argument's JSON text followed by a NUL byte, one after the other.
    text: String,
    args: Vec<Arg>,
}

struct Arg {
    start: usize,
    len: usize,
    /// The attachment a binary argument (a placeholder) stands for.
    attachment: Option<usize>,
}

impl Index {
    fn new(json: &str, attachment_count: usize) -> Result<Index, String> {
        let json = if json.trim().is_empty() { "[]" } else { json };
        let elements: Vec<&RawValue> = serde_json::from_str(json)
            .map_err(|e| format!("the arguments are not a JSON array: {e}"))?;
        let mut text = String::with_capacity(json.len() + elements.len());
        let mut args = Vec::with_capacity(elements.len());
        for element in elements {
            let raw = element.get();
            args.push(Arg {
                start: text.len(),
                len: raw.len(),
                attachment: placeholder(raw).filter(|&n| n < attachment_count),
            });
            text.push_str(raw);
            text.push('\0');
        }
        Ok(Index { text, args })
    }

    fn arg(&self, index: usize) -> Result<&Arg, Error> {
        self.args.get(index).ok_or_else(|| {
            Error::new(
                ferrio_status::InvalidArgument,
                format!(
                    "argument {index} is out of range: the payload has {} argument{}",
                    self.args.len(),
                    if self.args.len() == 1 { "" } else { "s" }
                ),
            )
        })
    }
}

/// The attachment number of socket.io's placeholder `{"_placeholder":true,"num":N}`, if `raw` is one.
fn placeholder(raw: &str) -> Option<usize> {
    if !raw.starts_with('{') || !raw.contains("_placeholder") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    if value.get("_placeholder")?.as_bool() != Some(true) {
        return None;
    }
    usize::try_from(value.get("num")?.as_u64()?).ok()
}

/// The arguments behind a payload ferrio handed out.
///
/// # Safety
/// `payload` must be NULL or point to a readable `ferrio_payload` whose `internal` field is NULL or as
/// ferrio set it, during the callback it was handed to.
unsafe fn args_of<'a>(payload: *const ferrio_payload) -> Result<&'a Args, Error> {
    // SAFETY: forwarded contract.
    let payload = unsafe { handle(payload, "payload") }?;
    let args = payload.internal.cast::<Args>();
    if args.is_null() {
        return Err(Error::new(
            ferrio_status::InvalidArgument,
            "this payload was not made by ferrio (its `internal` field is NULL): the argument \
             accessors read the payloads handed to callbacks, and copies of them",
        ));
    }
    // SAFETY: set by ferrio to the `Args` of the view that owns this payload, alive during the
    // callback (contract).
    Ok(unsafe { &*args })
}

/// How many arguments `payload` holds. `payload` is one ferrio handed to a callback (an event's
/// arguments, an ack's answer), or a copy of it, used during that callback from any thread; a payload
/// you filled in yourself gives `FERRIO_STATUS_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn ferrio_payload_arg_count(
    payload: *const ferrio_payload,
    out_count: *mut usize,
) -> ferrio_status {
    guard(|| {
        if out_count.is_null() {
            return Err(Error::null("out_count"));
        }
        // SAFETY: argument contract of the header.
        let count = unsafe { args_of(payload) }?.index()?.args.len();
        // SAFETY: out-param, checked for NULL.
        unsafe { write_out(out_count, count, "out_count") }
    })
}

/// The JSON text of argument `index` (from 0) of `payload`: `"hi"`, `42`, `{"token":"abc"}`, or for a
/// binary argument its placeholder `{"_placeholder":true,"num":N}` (see `ferrio_payload_arg_binary`).
/// NUL-terminated, borrowed like the payload. The arguments are delimited once per payload, on the first
/// call. An `index` past the last argument gives `FERRIO_STATUS_INVALID_ARGUMENT`; which payloads: see
/// `ferrio_payload_arg_count`.
#[no_mangle]
pub extern "C" fn ferrio_payload_arg(
    payload: *const ferrio_payload,
    index: usize,
    out: *mut ferrio_str,
) -> ferrio_status {
    guard(|| {
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: argument contract of the header.
        let args = unsafe { args_of(payload) }?.index()?;
        let arg = args.arg(index)?;
        let view = ferrio_str {
            ptr: args.text[arg.start..].as_ptr().cast(),
            len: arg.len,
        };
        // SAFETY: out-param, checked for NULL.
        unsafe { write_out(out, view, "out") }
    })
}

/// The bytes of argument `index` of `payload` when it is binary (a placeholder): the attachment it
/// refers to, borrowed like the payload. An argument that is not binary, or an `index` past the last
/// one, gives `FERRIO_STATUS_INVALID_ARGUMENT`. (All attachments, in placeholder order, are also
/// `payload->attachments[0 .. attachment_count]`.)
#[no_mangle]
pub extern "C" fn ferrio_payload_arg_binary(
    payload: *const ferrio_payload,
    index: usize,
    out: *mut ferrio_bytes,
) -> ferrio_status {
    guard(|| {
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: argument contract of the header.
        let owner = unsafe { args_of(payload) }?;
        let arg = owner.index()?.arg(index)?;
        let Some(n) = arg.attachment else {
            return Err(Error::new(
                ferrio_status::InvalidArgument,
                format!("argument {index} is not binary (not a placeholder of an attachment)"),
            ));
        };
        // SAFETY: out-param, checked for NULL.
        unsafe { write_out(out, owner.attachment(n), "out") }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_delimits_each_argument_and_finds_placeholders() {
        let json = r#"[ "a,]" , {"k":[1,2]},null, {"_placeholder":true,"num":1},{"_placeholder":true,"num":5},
            {"num":0,"_placeholder":true}, {"_placeholder":false,"num":0} ]"#;
        let index = Index::new(json, 2).unwrap();
        let texts: Vec<&str> = index
            .args
            .iter()
            .map(|a| &index.text[a.start..a.start + a.len])
            .collect();
        assert_eq!(
            texts,
            [
                r#""a,]""#,
                r#"{"k":[1,2]}"#,
                "null",
                r#"{"_placeholder":true,"num":1}"#,
                r#"{"_placeholder":true,"num":5}"#,
                r#"{"num":0,"_placeholder":true}"#,
                r#"{"_placeholder":false,"num":0}"#,
            ]
        );
        for arg in &index.args {
            assert_eq!(index.text.as_bytes()[arg.start + arg.len], 0);
        }
        let attachments: Vec<Option<usize>> = index.args.iter().map(|a| a.attachment).collect();
        // num 5 has no attachment; `_placeholder: false` is not one.
        assert_eq!(
            attachments,
            [None, None, None, Some(1), None, Some(0), None]
        );
        assert_eq!(Index::new("", 0).unwrap().args.len(), 0);
        assert_eq!(Index::new("[]", 0).unwrap().args.len(), 0);
        assert!(Index::new("{}", 0).is_err());
    }
}
