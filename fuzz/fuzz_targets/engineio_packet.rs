#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrio::fuzzing::engineio_packet(data);
});
