//! The messages @socket.io/redis-adapter exchanges over Redis, in its two encodings: broadcasts (and the
//! broadcast-with-ack request and its answers) in MessagePack as notepack.io writes it, every other request
//! and response in JSON. Both decode into one shape — a JSON value whose binary parts are placeholders
//! (`{"_placeholder":true,"num":N}`) plus the attachments they point at — the convention a [`Payload`]
//! already uses, so arguments cross between the two worlds without a second representation.

use bytes::Bytes;
use ferrio::Payload;
use rmpv::Value as Pack;
use serde_json::{Map, Number, Value};

/// Request types, numbered as the Node adapter numbers them.
pub(super) mod kind {
    pub const SOCKETS: u64 = 0;
    pub const ALL_ROOMS: u64 = 1;
    pub const REMOTE_JOIN: u64 = 2;
    pub const REMOTE_LEAVE: u64 = 3;
    pub const REMOTE_DISCONNECT: u64 = 4;
    pub const REMOTE_FETCH: u64 = 5;
    pub const SERVER_SIDE_EMIT: u64 = 6;
    pub const BROADCAST: u64 = 7;
    pub const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub const BROADCAST_ACK: u64 = 9;
}

/// socket.io-parser's EVENT packet type, which broadcasts carry (binary or not).
pub(super) const EVENT: u64 = 2;
/// BINARY_EVENT, which some emitters send.
pub(super) const BINARY_EVENT: u64 = 5;

/// Deepest nesting accepted from Redis; deeper messages are ignored rather than risking the stack.
const MAX_DEPTH: usize = 128;

/// A decoded message: JSON with placeholders, and the binary parts.
#[derive(Debug, Default)]
pub(super) struct Decoded {
    pub value: Value,
    pub attachments: Vec<Bytes>,
}

/// Decodes a message: JSON when it starts with `{` (as the Node adapter decides), MessagePack otherwise.
pub(super) fn decode(bytes: &[u8]) -> Option<Decoded> {
    if bytes.first() == Some(&b'{') {
        let value = serde_json::from_slice(bytes).ok()?;
        return Some(Decoded {
            value,
            attachments: Vec::new(),
        });
    }
    let mut reader = bytes;
    let pack = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH).ok()?;
    let mut attachments = Vec::new();
    let value = from_pack(pack, &mut attachments);
    Some(Decoded { value, attachments })
}

/// Encodes a JSON value with placeholders as MessagePack, the placeholders as binary.
pub(super) fn encode_pack(value: &Value, attachments: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &to_pack(value, attachments));
    out
}

fn from_pack(pack: Pack, attachments: &mut Vec<Bytes>) -> Value {
    match pack {
        Pack::Nil => Value::Null,
        Pack::Boolean(b) => Value::Bool(b),
        Pack::Integer(i) => i
            .as_u64()
            .map(Number::from)
            .or_else(|| i.as_i64().map(Number::from))
            .map_or(Value::Null, Value::Number),
        Pack::F32(f) => Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number),
        Pack::F64(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Pack::String(s) => match s.into_str() {
            Some(s) => Value::String(s),
            None => Value::Null,
        },
        Pack::Binary(bytes) => {
            let num = attachments.len();
            attachments.push(Bytes::from(bytes));
            placeholder(num)
        }
        Pack::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| from_pack(item, attachments))
                .collect(),
        ),
        Pack::Map(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (key, value) in entries {
                let key = match key {
                    Pack::String(s) => s.into_str().unwrap_or_default(),
                    other => other.to_string(),
                };
                // notepack's "undefined" (fixext 1, type 0) means an absent property.
                if matches!(&value, Pack::Ext(0, data) if data.len() == 1) {
                    continue;
                }
                map.insert(key, from_pack(value, attachments));
            }
            Value::Object(map)
        }
        // "undefined" elsewhere, dates and custom extensions have no JSON form: null, as JSON.stringify
        // would give for undefined.
        Pack::Ext(..) => Value::Null,
    }
}

fn placeholder(num: usize) -> Value {
    let mut map = Map::with_capacity(2);
    map.insert("_placeholder".into(), Value::Bool(true));
    map.insert("num".into(), Value::Number(num.into()));
    Value::Object(map)
}

/// The attachment index of a placeholder object.
fn placeholder_num(map: &Map<String, Value>) -> Option<usize> {
    if map.len() == 2 && map.get("_placeholder") == Some(&Value::Bool(true)) {
        return map.get("num")?.as_u64().map(|n| n as usize);
    }
    None
}

fn to_pack(value: &Value, attachments: &[Bytes]) -> Pack {
    match value {
        Value::Null => Pack::Nil,
        Value::Bool(b) => Pack::Boolean(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Pack::from(u)
            } else if let Some(i) = n.as_i64() {
                Pack::from(i)
            } else {
                Pack::F64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => Pack::from(s.as_str()),
        Value::Array(items) => Pack::Array(items.iter().map(|v| to_pack(v, attachments)).collect()),
        Value::Object(map) => {
            if let Some(bytes) = placeholder_num(map).and_then(|n| attachments.get(n)) {
                return Pack::Binary(bytes.to_vec());
            }
            Pack::Map(
                map.iter()
                    .map(|(k, v)| (Pack::from(k.as_str()), to_pack(v, attachments)))
                    .collect(),
            )
        }
    }
}

/// The arguments of a payload as JSON values (placeholders kept).
pub(super) fn payload_values(payload: &Payload) -> Vec<Value> {
    serde_json::from_str(payload.args_json()).unwrap_or_default()
}

/// A payload from JSON values whose placeholders point into `attachments` (a message's shared list): the
/// placeholders are renumbered over the attachments these values actually use.
pub(super) fn payload_from_values(values: Vec<Value>, attachments: &[Bytes]) -> Payload {
    let mut used = Vec::new();
    let values: Vec<Value> = values
        .into_iter()
        .map(|v| renumber(v, attachments, &mut used))
        .collect();
    Payload::from_args(&values)
        .unwrap_or_default()
        .with_attachments(used)
}

fn renumber(value: Value, attachments: &[Bytes], used: &mut Vec<Bytes>) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| renumber(v, attachments, used))
                .collect(),
        ),
        Value::Object(map) => {
            if let Some(bytes) = placeholder_num(&map).and_then(|n| attachments.get(n)) {
                used.push(bytes.clone());
                return placeholder(used.len() - 1);
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, renumber(v, attachments, used)))
                    .collect(),
            )
        }
        other => other,
    }
}

/// JSON values with the binary parts written as Node's `Buffer.toJSON()` does, for the requests the Node
/// adapter sends as JSON (a server-side emit with a Buffer argument arrives like this from Node too).
pub(super) fn json_with_buffers(values: Vec<Value>, attachments: &[Bytes]) -> Vec<Value> {
    fn walk(value: Value, attachments: &[Bytes]) -> Value {
        match value {
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| walk(v, attachments)).collect())
            }
            Value::Object(map) => {
                if let Some(bytes) = placeholder_num(&map).and_then(|n| attachments.get(n)) {
                    return serde_json::json!({"type": "Buffer", "data": bytes.to_vec()});
                }
                Value::Object(
                    map.into_iter()
                        .map(|(k, v)| (k, walk(v, attachments)))
                        .collect(),
                )
            }
            other => other,
        }
    }
    values.into_iter().map(|v| walk(v, attachments)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_broadcast_as_notepack_writes_it_decodes_with_its_buffer_as_an_attachment() {
        // notepack.encode(["abc123", {type: 2, data: ["hi", Buffer.from([1,2]), 1.5, undefined-in-map],
        // nsp: "/"}, {rooms: ["r"], except: [], flags: {}}]) with an undefined property in a map.
        let bytes: Vec<u8> = vec![
            0x93, 0xa6, b'a', b'b', b'c', b'1', b'2', b'3', // uid
            0x83, 0xa4, b't', b'y', b'p', b'e', 0x02, // type: 2
            0xa4, b'd', b'a', b't', b'a', 0x94, 0xa2, b'h', b'i', 0xc4, 0x02, 1, 2, 0xcb, 0x3f,
            0xf8, 0, 0, 0, 0, 0, 0, 0x81, 0xa1, b'u', 0xd4, 0x00, 0x00, // data
            0xa3, b'n', b's', b'p', 0xa1, b'/', // nsp
            0x83, 0xa5, b'r', b'o', b'o', b'm', b's', 0x91, 0xa1, b'r', 0xa6, b'e', b'x', b'c',
            b'e', b'p', b't', 0x90, 0xa5, b'f', b'l', b'a', b'g', b's', 0x80,
        ];
        let decoded = decode(&bytes).expect("decodes");
        assert_eq!(
            decoded.value,
            json!(["abc123", {"type": 2, "data": ["hi", {"_placeholder": true, "num": 0}, 1.5, {}],
                "nsp": "/"}, {"rooms": ["r"], "except": [], "flags": {}}])
        );
        assert_eq!(decoded.attachments, vec![Bytes::from_static(&[1, 2])]);
    }

    #[test]
    fn encoding_turns_placeholders_back_into_binary() {
        let value =
            json!(["x", {"type": 2, "data": ["e", {"_placeholder": true, "num": 0}, -3, 2.5]}]);
        let bytes = encode_pack(&value, &[Bytes::from_static(b"\x00\xff")]);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.value, value);
        assert_eq!(back.attachments, vec![Bytes::from_static(b"\x00\xff")]);
    }

    #[test]
    fn json_messages_decode_as_json() {
        let decoded = decode(br#"{"type":0,"requestId":"abc","rooms":["a"]}"#).unwrap();
        assert_eq!(decoded.value["requestId"], "abc");
        assert!(decode(b"{not json").is_none());
        assert!(decode(&[0x92, 0x01]).is_none(), "a truncated array");
    }

    #[test]
    fn payloads_renumber_the_attachments_they_use() {
        let shared = [Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        let payload = payload_from_values(
            vec![json!({"x": {"_placeholder": true, "num": 1}})],
            &shared,
        );
        assert_eq!(
            payload.args_json(),
            r#"[{"x":{"_placeholder":true,"num":0}}]"#
        );
        assert_eq!(payload.attachments(), &[Bytes::from_static(b"b")]);
    }
}
