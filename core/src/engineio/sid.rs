//! Session and socket ids: 15 random bytes from the operating system's CSPRNG, base64url-encoded into 20
//! characters, as the official server's `base64id` does. Ids are `Copy` and hash cheaply, so the room
//! and socket maps never allocate for them.

use base64::Engine as _;
use std::fmt;

/// A 20-character id (an Engine.IO session id or a Socket.IO socket id).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid([u8; 20]);

impl Sid {
    /// A fresh random id.
    pub fn generate() -> Sid {
        let random: [u8; 15] = rand::random();
        let mut out = [0u8; 20];
        let written = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode_slice(random, &mut out)
            .expect("15 bytes encode to exactly 20 base64 characters");
        debug_assert_eq!(written, 20);
        Sid(out)
    }

    /// Parses an id received from a client; `None` unless it has the shape of one of ours.
    pub fn parse(text: &str) -> Option<Sid> {
        let bytes = text.as_bytes();
        if bytes.len() != 20
            || !bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            return None;
        }
        let mut out = [0u8; 20];
        out.copy_from_slice(bytes);
        Some(Sid(out))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // The bytes are always base64url characters, hence ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.as_str())
    }
}

impl serde::Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_20_urlsafe_characters_and_distinct() {
        let a = Sid::generate();
        let b = Sid::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 20);
        assert_eq!(Sid::parse(a.as_str()), Some(a));
    }

    #[test]
    fn parse_rejects_foreign_shapes() {
        assert_eq!(Sid::parse("short"), None);
        assert_eq!(Sid::parse("aaaaaaaaaaaaaaaaaaa="), None);
        assert_eq!(Sid::parse("aaaaaaaaaaaaaaaaaaaaa"), None);
    }
}
