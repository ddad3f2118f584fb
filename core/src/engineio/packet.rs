//! The Engine.IO v4 packet codec and the HTTP long-polling payload framing.
//!
//! A packet is one type digit followed by its data. Over WebSocket a text frame carries one packet and a
//! binary frame carries the raw bytes of one binary message. Over polling, packets are joined with the
//! record separator 0x1e and binary messages travel as `b` + base64.

use base64::Engine as _;
use bytes::Bytes;

/// The record separator between the packets of a polling payload.
pub const SEPARATOR: char = '\x1e';

/// One decoded Engine.IO packet received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `0`: only the server sends it.
    Open,
    /// `1`: the client closes the session.
    Close,
    /// `2` with optional data (`probe` during an upgrade).
    Ping(&'a str),
    /// `3` with optional data (`probe` during an upgrade).
    Pong(&'a str),
    /// `4`: a text message.
    Message(&'a str),
    /// A binary message (a binary WebSocket frame, or `b<base64>` in a polling payload).
    Binary(Bytes),
    /// `5`: the client completes a transport upgrade.
    Upgrade,
    /// `6`: a no-op.
    Noop,
}

/// Why a packet or payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The packet was empty.
    #[error("empty packet")]
    Empty,
    /// The type digit is not one of 0–6.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// A `b` packet did not hold valid base64.
    #[error("invalid base64 in a binary packet")]
    InvalidBase64,
}

impl<'a> Packet<'a> {
    /// Decodes one text packet (a WebSocket text frame, or one record of a polling payload).
    pub fn decode(text: &'a str) -> Result<Packet<'a>, DecodeError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(DecodeError::Empty)?;
        let data = &text[kind.len_utf8()..];
        Ok(match kind {
            '0' => Packet::Open,
            '1' => Packet::Close,
            '2' => Packet::Ping(data),
            '3' => Packet::Pong(data),
            '4' => Packet::Message(data),
            '5' => Packet::Upgrade,
            '6' => Packet::Noop,
            'b' => Packet::Binary(Bytes::from(
                base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|_| DecodeError::InvalidBase64)?,
            )),
            other => return Err(DecodeError::UnknownType(other)),
        })
    }
}

/// Splits a polling payload into its packets and decodes each, in order.
pub fn decode_payload(payload: &str) -> impl Iterator<Item = Result<Packet<'_>, DecodeError>> {
    payload.split(SEPARATOR).map(Packet::decode)
}

/// Appends a binary message to a polling payload as `b<base64>`.
pub fn encode_binary_for_polling(out: &mut String, data: &[u8]) {
    out.push('b');
    base64::engine::general_purpose::STANDARD.encode_string(data, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_packet_type_from_the_spec() {
        let cases: &[(&str, Packet<'_>)] = &[
            ("0", Packet::Open),
            ("1", Packet::Close),
            ("2", Packet::Ping("")),
            ("2probe", Packet::Ping("probe")),
            ("3", Packet::Pong("")),
            ("3probe", Packet::Pong("probe")),
            ("4hello", Packet::Message("hello")),
            ("4", Packet::Message("")),
            ("4€ü", Packet::Message("€ü")),
            ("5", Packet::Upgrade),
            ("6", Packet::Noop),
            (
                "bAQIDBA==",
                Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
            ),
            ("b", Packet::Binary(Bytes::new())),
        ];
        for (wire, expected) in cases {
            assert_eq!(&Packet::decode(wire).unwrap(), expected, "{wire}");
        }
    }

    #[test]
    fn rejects_bad_packets() {
        assert_eq!(Packet::decode(""), Err(DecodeError::Empty));
        assert_eq!(Packet::decode("7"), Err(DecodeError::UnknownType('7')));
        assert_eq!(Packet::decode("é"), Err(DecodeError::UnknownType('é')));
        assert_eq!(Packet::decode("b!!"), Err(DecodeError::InvalidBase64));
    }

    #[test]
    fn splits_a_payload_as_in_the_spec() {
        let packets: Vec<_> = decode_payload("4hello\x1ebAQIDBA==\x1e2")
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::Message("hello"),
                Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
                Packet::Ping(""),
            ]
        );
    }

    #[test]
    fn encodes_binary_as_the_spec_does() {
        let mut out = String::from("4hello\x1e");
        encode_binary_for_polling(&mut out, &[1, 2, 3, 4]);
        assert_eq!(out, "4hello\x1ebAQIDBA==");
    }
}
