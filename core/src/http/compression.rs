//! Compression of long-polling responses (engine.io's `httpCompression`): which content coding a request
//! accepts, and the compressed body.

use http::{header, HeaderMap};
use std::io::Write;

/// A content coding a polling response may be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    /// HTTP's `deflate`: the zlib format (RFC 1950), as Node's `zlib.createDeflate` writes it.
    Deflate,
}

impl Coding {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// The coding to answer a request with, from its `Accept-Encoding`: the acceptable one of gzip and deflate
/// with the highest quality, gzip on a tie (as engine.io's `accepts(req).encodings(["gzip", "deflate"])`);
/// `*` stands for a coding not named; `q=0` refuses. None when neither is acceptable.
pub(crate) fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    let mut gzip = None;
    let mut deflate = None;
    let mut any = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let mut quality = 1.0_f32;
            for param in parts {
                if let Some(q) = param.trim().strip_prefix("q=") {
                    quality = q.trim().parse().unwrap_or(0.0);
                }
            }
            let slot = if name.eq_ignore_ascii_case("gzip") {
                &mut gzip
            } else if name.eq_ignore_ascii_case("deflate") {
                &mut deflate
            } else if name == "*" {
                &mut any
            } else {
                continue;
            };
            *slot = Some(slot.map_or(quality, |q: f32| q.max(quality)));
        }
    }
    let gzip = gzip.or(any).unwrap_or(0.0);
    let deflate = deflate.or(any).unwrap_or(0.0);
    if gzip <= 0.0 && deflate <= 0.0 {
        None
    } else if gzip >= deflate {
        Some(Coding::Gzip)
    } else {
        Some(Coding::Deflate)
    }
}

/// `body` compressed with `coding` (zlib's default level, as Node's).
pub(crate) fn compress(coding: Coding, body: &[u8]) -> Vec<u8> {
    let level = flate2::Compression::default();
    let out = Vec::with_capacity(body.len() / 3 + 32);
    // Writing into a Vec cannot fail.
    match coding {
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(out, level);
            let _ = encoder.write_all(body);
            encoder.finish().unwrap_or_default()
        }
        Coding::Deflate => {
            let mut encoder = flate2::write::ZlibEncoder::new(out, level);
            let _ = encoder.write_all(body);
            encoder.finish().unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::io::Read;

    fn accept(values: &[&str]) -> Option<Coding> {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        negotiate(&headers)
    }

    #[test]
    fn the_coding_follows_accept_encoding_as_engine_io_reads_it() {
        assert_eq!(accept(&[]), None);
        assert_eq!(accept(&["identity"]), None);
        assert_eq!(accept(&["br"]), None);
        assert_eq!(accept(&["gzip, deflate, br"]), Some(Coding::Gzip));
        assert_eq!(
            accept(&["deflate, gzip"]),
            Some(Coding::Gzip),
            "gzip on a tie"
        );
        assert_eq!(accept(&["deflate"]), Some(Coding::Deflate));
        assert_eq!(accept(&["gzip;q=0.5, deflate"]), Some(Coding::Deflate));
        assert_eq!(accept(&["gzip;q=0, deflate;q=0"]), None);
        assert_eq!(accept(&["gzip;q=0"]), None);
        assert_eq!(accept(&["*"]), Some(Coding::Gzip));
        assert_eq!(accept(&["*;q=0.1, gzip;q=0"]), Some(Coding::Deflate));
        assert_eq!(accept(&["GZIP"]), Some(Coding::Gzip));
        assert_eq!(
            accept(&["br", "deflate"]),
            Some(Coding::Deflate),
            "every header line"
        );
        assert_eq!(accept(&["gzip;q=nonsense"]), None);
    }

    #[test]
    fn compressed_bodies_inflate_back() {
        let body = "4hello".repeat(500);
        let gz = compress(Coding::Gzip, body.as_bytes());
        assert!(gz.len() < body.len() / 10, "{}", gz.len());
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, body);
        let zlib = compress(Coding::Deflate, body.as_bytes());
        let mut text = String::new();
        flate2::read::ZlibDecoder::new(&zlib[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, body);
    }
}
