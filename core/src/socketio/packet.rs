//! The Socket.IO v5 packet codec: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]`.
//!
//! Decoding borrows the received text and never builds a JSON tree for event arguments: the event name is
//! read from the array and the remaining elements are kept as JSON text, so an echo or a relay costs one
//! validation pass. Encoding writes the whole Engine.IO text frame (`4` prefix included) in one string, so
//! a broadcast is encoded once and shared by every target.

use serde_json::value::RawValue;

/// The packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// 0: connect to a namespace (with the auth payload), or the server's acceptance.
    Connect,
    /// 1: leave a namespace.
    Disconnect,
    /// 2: an event.
    Event,
    /// 3: an acknowledgement.
    Ack,
    /// 4: the server refused a namespace connection.
    ConnectError,
    /// 5: an event with binary attachments.
    BinaryEvent,
    /// 6: an acknowledgement with binary attachments.
    BinaryAck,
}

impl PacketKind {
    fn from_digit(digit: u8) -> Option<PacketKind> {
        Some(match digit {
            b'0' => PacketKind::Connect,
            b'1' => PacketKind::Disconnect,
            b'2' => PacketKind::Event,
            b'3' => PacketKind::Ack,
            b'4' => PacketKind::ConnectError,
            b'5' => PacketKind::BinaryEvent,
            b'6' => PacketKind::BinaryAck,
            _ => return None,
        })
    }

    fn is_binary(self) -> bool {
        matches!(self, PacketKind::BinaryEvent | PacketKind::BinaryAck)
    }
}

/// Why a Socket.IO packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Empty text or an unknown type digit.
    #[error("unknown packet type")]
    UnknownType,
    /// The attachment count is missing, malformed or above the limit.
    #[error("invalid attachment count")]
    InvalidAttachments,
    /// The ack id is not a number that fits.
    #[error("invalid ack id")]
    InvalidAckId,
    /// The data is not valid JSON, or not of the shape the packet type requires.
    #[error("invalid payload: {0}")]
    InvalidPayload(&'static str),
}

/// A decoded packet, borrowing the received text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket<'a> {
    /// The type.
    pub kind: PacketKind,
    /// How many binary attachments follow (binary types only).
    pub attachments: usize,
    /// The namespace (`/` when absent).
    pub nsp: &'a str,
    /// The ack id, if any.
    pub id: Option<u64>,
    /// The JSON data, possibly empty.
    pub data: &'a str,
}

/// Decodes the header of a packet; `max_attachments` bounds the attachment count.
pub fn decode(text: &str, max_attachments: usize) -> Result<RawPacket<'_>, ParseError> {
    let bytes = text.as_bytes();
    let kind = bytes
        .first()
        .and_then(|d| PacketKind::from_digit(*d))
        .ok_or(ParseError::UnknownType)?;
    let mut pos = 1;
    let mut attachments = 0usize;
    if kind.is_binary() {
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == start || pos >= bytes.len() || bytes[pos] != b'-' || pos - start > 6 {
            return Err(ParseError::InvalidAttachments);
        }
        attachments = text[start..pos]
            .parse()
            .map_err(|_| ParseError::InvalidAttachments)?;
        if attachments > max_attachments {
            return Err(ParseError::InvalidAttachments);
        }
        pos += 1;
    }
    let mut nsp = "/";
    if bytes.get(pos) == Some(&b'/') {
        let start = pos;
        while pos < bytes.len() && bytes[pos] != b',' {
            pos += 1;
        }
        nsp = &text[start..pos];
        if pos < bytes.len() {
            pos += 1; // the comma
        }
    }
    let mut id = None;
    let start = pos;
    while pos < bytes.len() && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos > start {
        id = Some(
            text[start..pos]
                .parse()
                .map_err(|_| ParseError::InvalidAckId)?,
        );
    }
    Ok(RawPacket {
        kind,
        attachments,
        nsp,
        id,
        data: &text[pos..],
    })
}

/// Whether JSON `text` nests arrays and objects deeper than `max` (strings are skipped). A text no longer
/// than `max`, or with no more than `max` brackets in all, cannot, so ordinary packets cost one short
/// vectorized count.
pub fn nesting_exceeds(text: &str, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    if !more_openings_than(text.as_bytes(), max) {
        return false;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Whether `bytes` holds more than `max` opening brackets (`[` or `{`, in strings too: an upper bound of
/// the nesting). Counted 255 bytes at a time into a byte-wide sum, which the compiler turns into SIMD
/// compares and adds (tens of GB/s), with an early exit once the count is over `max`.
fn more_openings_than(bytes: &[u8], max: usize) -> bool {
    let mut count = 0usize;
    for chunk in bytes.chunks(255) {
        // `[` is 0x5B and `{` 0x7B: the only bytes that are 0x7B once bit 0x20 is set.
        let n = chunk
            .iter()
            .fold(0u8, |n, &b| n.wrapping_add(u8::from((b | 0x20) == b'{')));
        count += usize::from(n);
        if count > max {
            return true;
        }
    }
    false
}

/// Splits an event's data (`["name", arg, …]`) into the name and the JSON array text of the arguments.
pub fn split_event(data: &str) -> Result<(String, String), ParseError> {
    let elements: Vec<&RawValue> =
        serde_json::from_str(data).map_err(|_| ParseError::InvalidPayload("not a JSON array"))?;
    let Some((first, rest)) = elements.split_first() else {
        return Err(ParseError::InvalidPayload("an event needs a name"));
    };
    let name: String = match serde_json::from_str::<serde_json::Value>(first.get()) {
        Ok(serde_json::Value::String(name)) => name,
        // socket.io-parser also accepts a number as the event name.
        Ok(serde_json::Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ParseError::InvalidPayload(
                "the event name must be a string",
            ))
        }
    };
    Ok((name, replace_lone_surrogates(join_elements(data, rest))))
}

/// Validates an ack's data (a JSON array) and returns it as the arguments' JSON text.
pub fn ack_args(data: &str) -> Result<String, ParseError> {
    let elements: Vec<&RawValue> =
        serde_json::from_str(data).map_err(|_| ParseError::InvalidPayload("not a JSON array"))?;
    Ok(replace_lone_surrogates(join_elements(data, &elements)))
}

/// JSON text may escape UTF-16 surrogates one by one (`"\ud83d"`, as JavaScript's `JSON.stringify` does
/// for a string cut in the middle of an emoji); no Rust, Python or C string can hold an unpaired one, so
/// each becomes U+FFFD here, once, instead of failing in whichever binding decodes the arguments.
fn replace_lone_surrogates(json: String) -> String {
    if !json.contains("\\u") {
        return json;
    }
    let bytes = json.as_bytes();
    let hex_at = |i: usize| -> Option<u16> {
        let digits = json.get(i + 2..i + 6)?;
        if bytes.get(i + 1) == Some(&b'u') {
            u16::from_str_radix(digits, 16).ok()
        } else {
            None
        }
    };
    let mut out = String::with_capacity(json.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let Some(unit) = hex_at(i) else {
            i += 2; // an escaped character (`\\`, `\"`, ...): skip both bytes
            continue;
        };
        let lone = match unit {
            0xD800..=0xDBFF => {
                let next = if bytes.get(i + 6) == Some(&b'\\') {
                    hex_at(i + 6)
                } else {
                    None
                };
                if next.is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) {
                    i += 12; // a proper pair
                    continue;
                }
                true
            }
            0xDC00..=0xDFFF => true,
            _ => false,
        };
        if lone {
            out.push_str(&json[copied..i]);
            out.push_str("\\ufffd");
            copied = i + 6;
        }
        i += 6;
    }
    if copied == 0 {
        return json;
    }
    out.push_str(&json[copied..]);
    out
}

/// Re-forms `[e1,e2,…]` from borrowed elements of `source`: one slice from the first element's start to
/// the last element's end when they are contiguous in the source, as they always are for arrays.
fn join_elements(source: &str, elements: &[&RawValue]) -> String {
    let (Some(first), Some(last)) = (elements.first(), elements.last()) else {
        return "[]".to_owned();
    };
    let base = source.as_ptr() as usize;
    let start = first.get().as_ptr() as usize - base;
    let end = last.get().as_ptr() as usize - base + last.get().len();
    let mut out = String::with_capacity(end - start + 2);
    out.push('[');
    out.push_str(&source[start..end]);
    out.push(']');
    out
}

/// Appends `text` as a JSON string literal.
pub(crate) fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escape: Option<&str> = match byte {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&text[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{byte:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// Writes the header: Engine.IO `4`, the type digit, the attachment count, the namespace, the ack id.
fn push_header(out: &mut String, kind: char, attachments: usize, nsp: &str, id: Option<u64>) {
    use std::fmt::Write;
    out.push('4');
    out.push(kind);
    if attachments > 0 {
        let _ = write!(out, "{attachments}-");
    }
    if nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(id) = id {
        let _ = write!(out, "{id}");
    }
}

/// The inner elements of a JSON array text (`[a,b]` → `a,b`).
fn array_inner(args: &str) -> &str {
    let trimmed = args.trim();
    trimmed
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or("")
        .trim()
}

/// Encodes an EVENT (or BINARY_EVENT when there are attachments) as a whole Engine.IO text frame.
pub fn encode_event(
    nsp: &str,
    event: &str,
    args: &str,
    attachments: usize,
    id: Option<u64>,
) -> String {
    encode_event_inner(nsp, event, args, attachments, id, None)
}

/// Encodes an EVENT kept for connection state recovery: its offset is appended as the last argument,
/// where socket.io puts it and where the official client reads it back.
pub fn encode_event_with_offset(
    nsp: &str,
    event: &str,
    args: &str,
    attachments: usize,
    offset: &str,
) -> String {
    encode_event_inner(nsp, event, args, attachments, None, Some(offset))
}

fn encode_event_inner(
    nsp: &str,
    event: &str,
    args: &str,
    attachments: usize,
    id: Option<u64>,
    offset: Option<&str>,
) -> String {
    let inner = array_inner(args);
    let extra = offset.map_or(0, |o| o.len() + 3);
    let mut out = String::with_capacity(16 + nsp.len() + event.len() + inner.len() + extra);
    push_header(
        &mut out,
        if attachments > 0 { '5' } else { '2' },
        attachments,
        nsp,
        id,
    );
    out.push('[');
    push_json_string(&mut out, event);
    if !inner.is_empty() {
        out.push(',');
        out.push_str(inner);
    }
    if let Some(offset) = offset {
        out.push(',');
        push_json_string(&mut out, offset);
    }
    out.push(']');
    out
}

/// Encodes an ACK (or BINARY_ACK) as a whole Engine.IO text frame.
pub fn encode_ack(nsp: &str, id: u64, args: &str, attachments: usize) -> String {
    let inner = array_inner(args);
    let mut out = String::with_capacity(16 + nsp.len() + inner.len());
    push_header(
        &mut out,
        if attachments > 0 { '6' } else { '3' },
        attachments,
        nsp,
        Some(id),
    );
    out.push('[');
    out.push_str(inner);
    out.push(']');
    out
}

/// The server's CONNECT answer: `0[nsp,]{"sid":"…"}`, with the private session id when connection
/// state recovery is on: `{"sid":"…","pid":"…"}`.
pub fn encode_connect(nsp: &str, sid: &str, pid: Option<&str>) -> String {
    let mut out = String::with_capacity(64 + nsp.len());
    push_header(&mut out, '0', 0, nsp, None);
    out.push_str("{\"sid\":");
    push_json_string(&mut out, sid);
    if let Some(pid) = pid {
        out.push_str(",\"pid\":");
        push_json_string(&mut out, pid);
    }
    out.push('}');
    out
}

/// A CONNECT_ERROR: `4[nsp,]{"message":…,"data":…}`.
pub fn encode_connect_error(nsp: &str, message: &str, data: Option<&serde_json::Value>) -> String {
    let mut out = String::with_capacity(40 + nsp.len() + message.len());
    push_header(&mut out, '4', 0, nsp, None);
    out.push_str("{\"message\":");
    push_json_string(&mut out, message);
    if let Some(data) = data {
        out.push_str(",\"data\":");
        out.push_str(&data.to_string());
    }
    out.push('}');
    out
}

/// A DISCONNECT: `1[nsp,]`.
pub fn encode_disconnect(nsp: &str) -> String {
    let mut out = String::with_capacity(4 + nsp.len());
    push_header(&mut out, '1', 0, nsp, None);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn lone_surrogate_escapes_become_replacement_characters() {
        use super::{ack_args, split_event};
        let (_, args) =
            split_event(r#"["msg","\ude00","a\ud83d","\ud83d\ude00","\\ud800",1]"#).unwrap();
        assert_eq!(args, r#"["\ufffd","a\ufffd","\ud83d\ude00","\\ud800",1]"#);
        let value: serde_json::Value = serde_json::from_str(&args).unwrap();
        assert_eq!(value[0], "\u{fffd}");
        assert_eq!(value[2], "\u{1f600}");
        assert_eq!(value[3], "\\ud800");
        assert_eq!(ack_args(r#"["\uDBFF"]"#).unwrap(), r#"["\ufffd"]"#);
        assert_eq!(ack_args(r#"["ok"]"#).unwrap(), r#"["ok"]"#);
    }

    use super::*;

    /// The examples of the protocol's README, decoded.
    #[test]
    fn decodes_the_spec_examples() {
        type Case<'a> = (&'a str, PacketKind, usize, &'a str, Option<u64>, &'a str);
        let cases: &[Case<'_>] = &[
            ("0", PacketKind::Connect, 0, "/", None, ""),
            (
                "0/admin,{\"token\":\"123\"}",
                PacketKind::Connect,
                0,
                "/admin",
                None,
                "{\"token\":\"123\"}",
            ),
            ("1/admin,", PacketKind::Disconnect, 0, "/admin", None, ""),
            (
                "2[\"hello\",1]",
                PacketKind::Event,
                0,
                "/",
                None,
                "[\"hello\",1]",
            ),
            (
                "2/admin,456[\"project:delete\",123]",
                PacketKind::Event,
                0,
                "/admin",
                Some(456),
                "[\"project:delete\",123]",
            ),
            (
                "3/admin,456[]",
                PacketKind::Ack,
                0,
                "/admin",
                Some(456),
                "[]",
            ),
            (
                "51-[\"hello\",{\"_placeholder\":true,\"num\":0}]",
                PacketKind::BinaryEvent,
                1,
                "/",
                None,
                "[\"hello\",{\"_placeholder\":true,\"num\":0}]",
            ),
            (
                "61-/admin,456[{\"_placeholder\":true,\"num\":0}]",
                PacketKind::BinaryAck,
                1,
                "/admin",
                Some(456),
                "[{\"_placeholder\":true,\"num\":0}]",
            ),
            ("1/nsp", PacketKind::Disconnect, 0, "/nsp", None, ""),
        ];
        for (wire, kind, attachments, nsp, id, data) in cases {
            let packet = decode(wire, 10).unwrap();
            assert_eq!(
                packet,
                RawPacket {
                    kind: *kind,
                    attachments: *attachments,
                    nsp,
                    id: *id,
                    data
                },
                "{wire}"
            );
        }
    }

    #[test]
    fn rejects_malformed_headers() {
        assert_eq!(decode("", 10), Err(ParseError::UnknownType));
        assert_eq!(decode("9", 10), Err(ParseError::UnknownType));
        assert_eq!(decode("5[]", 10), Err(ParseError::InvalidAttachments));
        assert_eq!(decode("5x-[]", 10), Err(ParseError::InvalidAttachments));
        assert_eq!(decode("511-[]", 10), Err(ParseError::InvalidAttachments));
        assert_eq!(
            decode("299999999999999999999999[\"a\"]", 10),
            Err(ParseError::InvalidAckId)
        );
    }

    #[test]
    fn splits_events_without_building_a_tree() {
        assert_eq!(
            split_event("[\"chat\", {\"a\": [1, 2]}, \"x\"]").unwrap(),
            ("chat".to_owned(), "[{\"a\": [1, 2]}, \"x\"]".to_owned())
        );
        assert_eq!(
            split_event("[\"ping\"]").unwrap(),
            ("ping".to_owned(), "[]".to_owned())
        );
        assert_eq!(
            split_event("[ \"e\\u00e9\" ,1]").unwrap(),
            ("eé".to_owned(), "[1]".to_owned())
        );
        assert!(split_event("[]").is_err());
        assert!(split_event("[1").is_err());
        assert!(split_event("{\"a\":1}").is_err());
        assert!(split_event("[{\"a\":1}]").is_err());
        assert_eq!(ack_args("[]").unwrap(), "[]");
        assert_eq!(ack_args("[1,\"two\"]").unwrap(), "[1,\"two\"]");
        assert!(ack_args("\"x\"").is_err());
    }

    #[test]
    fn encodes_as_the_official_parser() {
        assert_eq!(
            encode_event("/", "hello", "[1]", 0, None),
            "42[\"hello\",1]"
        );
        assert_eq!(encode_event("/", "hello", "[]", 0, None), "42[\"hello\"]");
        assert_eq!(
            encode_event("/admin", "project:delete", "[123]", 0, Some(456)),
            "42/admin,456[\"project:delete\",123]"
        );
        assert_eq!(
            encode_event("/", "hello", "[{\"_placeholder\":true,\"num\":0}]", 1, None),
            "451-[\"hello\",{\"_placeholder\":true,\"num\":0}]"
        );
        assert_eq!(encode_ack("/admin", 456, "[]", 0), "43/admin,456[]");
        assert_eq!(
            encode_ack("/admin", 456, "[{\"_placeholder\":true,\"num\":0}]", 1),
            "461-/admin,456[{\"_placeholder\":true,\"num\":0}]"
        );
        assert_eq!(encode_connect("/", "abc", None), "40{\"sid\":\"abc\"}");
        assert_eq!(
            encode_connect("/chat", "abc", None),
            "40/chat,{\"sid\":\"abc\"}"
        );
        assert_eq!(
            encode_connect("/", "abc", Some("xyz")),
            "40{\"sid\":\"abc\",\"pid\":\"xyz\"}"
        );
        assert_eq!(
            encode_event_with_offset("/", "hello", "[1]", 0, "o1"),
            "42[\"hello\",1,\"o1\"]"
        );
        assert_eq!(
            encode_event_with_offset("/x", "hello", "[]", 0, "o2"),
            "42/x,[\"hello\",\"o2\"]"
        );
        assert_eq!(
            encode_event_with_offset("/", "b", "[{\"_placeholder\":true,\"num\":0}]", 1, "o3"),
            "451-[\"b\",{\"_placeholder\":true,\"num\":0},\"o3\"]"
        );
        assert_eq!(
            encode_connect_error("/", "Not authorized", None),
            "44{\"message\":\"Not authorized\"}"
        );
        assert_eq!(
            encode_connect_error("/x", "no", Some(&serde_json::json!({"a":1}))),
            "44/x,{\"message\":\"no\",\"data\":{\"a\":1}}"
        );
        assert_eq!(encode_disconnect("/"), "41");
        assert_eq!(encode_disconnect("/admin"), "41/admin,");
    }

    #[test]
    fn escapes_event_names() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"");
        let parsed: String = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
    }
}
