//! Entry points for the coverage-guided fuzz targets (`fuzz/`, `make fuzz`), compiled only with the
//! `fuzzing` feature and not part of the API: the decoders they drive stay crate-private.
//!
//! Each function feeds one input to the decoders exactly as a client's bytes reach them, and panics only
//! when an invariant fails (a decoder may reject anything, but must never panic and must hand on only
//! what it promises: well-formed JSON arrays, attachment counts within the limit, depth-checked data).

use crate::engineio::packet::{decode_payload, Packet};
use crate::socketio::client::{decode_text, Decoded, PendingBinary};
use crate::socketio::packet as sio;
use serde_json::value::RawValue;

/// The server's default limits (`ServerConfig`): attachments per packet and JSON nesting.
const MAX_ATTACHMENTS: usize = 10;
const MAX_JSON_DEPTH: usize = 128;

/// One Engine.IO packet: a WebSocket text frame or one record of a polling payload. (The transports
/// refuse a text that is not UTF-8 before any decoder sees it.)
pub fn engineio_packet(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(Packet::Message(message)) = Packet::decode(text) {
            assert_eq!(message.len() + 1, text.len());
        }
    }
}

/// A polling payload: packets joined by the record separator.
pub fn engineio_payload(text: &str) {
    for packet in decode_payload(text) {
        let _ = packet;
    }
}

/// One Socket.IO packet (an Engine.IO message's text): its header, then what the server does with it —
/// the JSON depth check, the event name and arguments of an EVENT, the arguments of an ACK, the auth
/// object of a CONNECT.
pub fn socketio_packet(text: &str) {
    if let Ok(packet) = sio::decode(text, MAX_ATTACHMENTS) {
        assert!(packet.attachments <= MAX_ATTACHMENTS);
        assert!(packet.nsp.starts_with('/'));
        // Every function on the data, even past the depth check the server applies first.
        if let Ok((_, args)) = sio::split_event(packet.data) {
            assert_json_array(&args);
        }
        if let Ok(args) = sio::ack_args(packet.data) {
            assert_json_array(&args);
        }
    }
    match decode_text(text, MAX_ATTACHMENTS, MAX_JSON_DEPTH) {
        Ok(Decoded::Event { args, .. } | Decoded::Ack { args, .. }) => assert_json_array(&args),
        Ok(Decoded::Connect { auth, .. }) => assert!(auth.is_object()),
        Ok(Decoded::Binary(pending)) => finish(pending),
        Ok(Decoded::Disconnect { .. }) | Err(_) => {}
    }
}

/// The body of a polling POST, as the engine and then the Socket.IO client state take it: UTF-8, split
/// into Engine.IO packets, each message decoded, binary packets waiting for their attachments (`b…`
/// records) and reassembled. Stops where the server would close the connection.
pub fn polling_post(body: &[u8]) {
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    let mut pending: Option<PendingBinary> = None;
    for packet in decode_payload(text) {
        match packet {
            Ok(Packet::Message(message)) => {
                if pending.is_some() {
                    return; // a text packet while attachments were expected
                }
                match decode_text(message, MAX_ATTACHMENTS, MAX_JSON_DEPTH) {
                    Ok(Decoded::Binary(binary)) if binary.is_complete() => finish(binary),
                    Ok(Decoded::Binary(binary)) => pending = Some(binary),
                    Ok(Decoded::Event { args, .. } | Decoded::Ack { args, .. }) => {
                        assert_json_array(&args)
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
            Ok(Packet::Binary(data)) => {
                let Some(binary) = pending.as_mut() else {
                    return; // an unexpected binary message
                };
                if binary.push(data) {
                    finish(pending.take().expect("pending"));
                }
            }
            Ok(Packet::Pong(_) | Packet::Noop) => {}
            Ok(Packet::Open | Packet::Close | Packet::Ping(_) | Packet::Upgrade) | Err(_) => return,
        }
    }
}

/// The JSON depth check against the plainest possible reference: the real one skips most texts by
/// counting brackets first, and must agree with it on every text and limit.
pub fn json_nesting(text: &str) {
    // Nested copies of the input too, so that deep texts are common.
    let deep = format!(
        "{}{text}{}",
        "[".repeat(text.len() % 300),
        "]".repeat(text.len() % 7)
    );
    for candidate in [text, deep.as_str()] {
        for max in [0, 1, 2, 5, 32, 128, 1000] {
            assert_eq!(
                sio::nesting_exceeds(candidate, max),
                nesting_reference(candidate, max),
                "max {max}: {candidate:?}"
            );
        }
    }
}

fn nesting_reference(text: &str, max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// A complete binary packet becomes the payload handed to the handlers: its arguments and attachments.
fn finish(pending: PendingBinary) {
    let payload = pending.into_payload();
    assert_json_array(payload.args_json());
    let _ = payload.len();
    let _ = payload.values();
    let (args, attachments) = payload.into_parts();
    let _ = crate::payload::Payload::from_json(args, attachments);
}

/// The arguments handed to handlers are one well-formed JSON array in which no lone surrogate escape
/// is left. (Numbers beyond f64's range are well-formed JSON that serde_json's `Value` refuses: they are
/// checked for syntax only, as here.)
fn assert_json_array(args: &str) {
    let value: Box<RawValue> = serde_json::from_str(args).expect("arguments are valid JSON");
    assert!(value.get().starts_with('['), "not an array: {args}");
    match serde_json::from_str::<serde_json::Value>(args) {
        Ok(value) => assert!(value.is_array()),
        Err(e) => assert!(!e.to_string().contains("surrogate"), "{e}: {args}"),
    }
}
