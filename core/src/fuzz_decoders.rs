//! Randomised fuzzing of every decoder on the stable toolchain: seeds from the protocol specs, mutated
//! (bit flips, byte and token insertions, truncations, splices, deep nesting, long runs), fed to the
//! Engine.IO packet and payload decoders, the Socket.IO packet decoder and its event/ack argument parsers,
//! and the JSON argument path. A decoder may reject anything; it must never panic, and it must answer in
//! time linear in its input. `make test` runs a short pass; `make fuzz` runs each target for a minute
//! (`FERRIO_FUZZ_SECS`). Runs are reproducible: `FERRIO_FUZZ_SEED` picks the generator's seed.

use crate::engineio::packet::{decode_payload, Packet};
use crate::socketio::packet as sio;
use std::time::{Duration, Instant};

/// A small, fast, seedable generator (xorshift64*): the harness must not depend on the system's entropy.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Seeds: the examples of the Engine.IO and Socket.IO protocol documents, and edge cases around them.
const SEEDS: &[&str] = &[
    "0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}",
    "1",
    "2",
    "3",
    "2probe",
    "3probe",
    "4hello",
    "5",
    "6",
    "bAQIDBA==",
    "4hello\u{1e}bAQIDBA==\u{1e}2",
    "0",
    "0/admin,",
    "0/admin,{\"token\":\"123\"}",
    "40{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}",
    "44{\"message\":\"Not authorized\"}",
    "1/admin,",
    "2[\"foo\"]",
    "2/admin,[\"bar\"]",
    "212[\"foo\"]",
    "3/admin,13[\"bar\"]",
    "51-[\"baz\",{\"_placeholder\":true,\"num\":0}]",
    "52-/admin,456[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
    "61-/admin,456[{\"_placeholder\":true,\"num\":0}]",
    "42[\"hello\",1,\"two\",{\"three\":[4,5.5,true,null]}]",
    "42/chat,17[\"msg\",\"\\u00e9\\ud83d\\ude00\"]",
    "431[\"ok\"]",
    "42[1,2]",
    "42[]",
    "42[\"\"]",
    "4999999999999999999999[\"x\"]",
    "5999999-[\"x\"]",
];

/// Fragments worth inserting: the grammar's delimiters and the values JSON parsers trip on.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "\\",
    "/",
    "-",
    "\u{1e}",
    "\u{0}",
    "\u{ffff}",
    "\u{10ffff}",
    "é",
    "{\"_placeholder\":true,\"num\":",
    "99999999999999999999",
    "-0",
    "1e999",
    "NaN",
    "null",
    "true",
    "\\u0000",
    "\\ud800",
    "b",
    "==",
    "4",
    "42",
    "0/",
    "/admin,",
];

fn mutate(rng: &mut Rng, input: &str) -> String {
    let mut bytes = input.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(9) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(bytes.len() + 1);
                bytes.insert(i, rng.next() as u8);
            }
            2 => {
                let i = rng.below(bytes.len() + 1);
                let token = TOKENS[rng.below(TOKENS.len())];
                bytes.splice(i..i, token.bytes());
            }
            3 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes.truncate(i);
            }
            4 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                let j = (i + rng.below(16)).min(bytes.len());
                bytes.drain(i..j);
            }
            5 => {
                let other = SEEDS[rng.below(SEEDS.len())].as_bytes();
                let cut = rng.below(other.len() + 1);
                let at = rng.below(bytes.len() + 1);
                bytes.truncate(at);
                bytes.extend_from_slice(&other[cut..]);
            }
            6 => {
                // Deep nesting, well past any sane limit.
                let depth = 100 + rng.below(5000);
                let at = rng.below(bytes.len() + 1);
                let open = if rng.below(2) == 0 { b'[' } else { b'{' };
                let run = std::iter::repeat_n(open, depth);
                bytes.splice(at..at, run);
            }
            7 => {
                // A long run of one byte.
                let at = rng.below(bytes.len() + 1);
                let byte = b"9[\"{,\\ /"[rng.below(8)];
                bytes.splice(at..at, std::iter::repeat_n(byte, 1 + rng.below(20_000)));
            }
            _ => {
                let i = rng.below(bytes.len() + 1);
                bytes.insert(i, b"0123456789"[rng.below(10)]);
            }
        }
    }
    // The decoders take text: the transports reject invalid UTF-8 before them.
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs `target` on mutated seeds for the configured time or iterations; a panic fails the test with
/// the input that caused it.
fn fuzz(name: &str, target: impl Fn(&str)) {
    let secs: f64 = std::env::var("FERRIO_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let seed: u64 = std::env::var("FERRIO_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_F00D_u64 ^ name.len() as u64);
    let mut rng = Rng(seed.max(1));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut runs = 0u64;
    let mut slowest = Duration::ZERO;
    for seed_input in SEEDS {
        target(seed_input);
    }
    while Instant::now() < deadline {
        let base = SEEDS[rng.below(SEEDS.len())];
        let input = mutate(&mut rng, base);
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(&input)));
        let mut took = started.elapsed();
        if let Err(panic) = outcome {
            panic!("{name}: the decoder panicked ({panic:?}) on {input:?}");
        }
        // A slow run may be the machine (another process took the core), not the decoder: the
        // fastest of a few more runs is the decoder's own cost.
        for _ in 0..3 {
            if took < Duration::from_millis(50) {
                break;
            }
            let again = Instant::now();
            target(&input);
            took = took.min(again.elapsed());
        }
        // Linear time: even 40 KB of input must decode in well under 50 ms.
        assert!(
            took < Duration::from_millis(50),
            "{name}: {took:?} for {} bytes: {input:?}",
            input.len()
        );
        slowest = slowest.max(took);
        runs += 1;
    }
    eprintln!("fuzz {name}: {runs} inputs, slowest {slowest:?}, no panic");
    assert!(runs > 0, "{name}: no input was tried");
}

#[test]
fn engineio_packet() {
    fuzz("engineio_packet", |text| {
        let _ = Packet::decode(text);
    });
}

#[test]
fn engineio_payload() {
    fuzz("engineio_payload", |text| {
        for packet in decode_payload(text) {
            let _ = packet;
        }
    });
}

#[test]
fn socketio_packet_and_arguments() {
    fuzz("socketio_packet", |text| {
        // Both the packet as it arrives and its Engine.IO message body.
        for candidate in [text, text.get(1..).unwrap_or("")] {
            if let Ok(packet) = sio::decode(candidate, 10) {
                assert!(packet.attachments <= 10);
                // The arguments handed to handlers are one well-formed JSON array. (Numbers beyond
                // f64's range are well-formed JSON that serde_json's Value refuses: they are checked
                // for syntax only, as here.)
                if let Ok((_, args)) = sio::split_event(packet.data) {
                    let value: Box<serde_json::value::RawValue> =
                        serde_json::from_str(&args).expect("split_event returns valid JSON");
                    assert!(value.get().starts_with('['));
                    // Lone surrogate escapes never reach a binding.
                    match serde_json::from_str::<serde_json::Value>(&args) {
                        Ok(value) => assert!(value.is_array()),
                        Err(e) => assert!(!e.to_string().contains("surrogate"), "{e}: {args}"),
                    }
                }
                if let Ok(args) = sio::ack_args(packet.data) {
                    let value: Box<serde_json::value::RawValue> =
                        serde_json::from_str(&args).expect("ack_args returns valid JSON");
                    assert!(value.get().starts_with('['));
                }
                let _ = serde_json::from_str::<serde_json::Value>(packet.data);
            }
        }
    });
}

/// The nesting check as plainly as it can be written: the real one skips most texts by counting
/// brackets first, and must agree with this on every input.
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

#[test]
fn json_nesting_check() {
    fuzz("json_nesting", |text| {
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
    });
}
