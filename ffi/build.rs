//! Gives `libferrio.so` the SONAME `libferrio.so` on ELF platforms, so that programs linked against it
//! by full path (CMake's imported targets do that) record `libferrio.so` as what they need, found through
//! their rpath, rather than the absolute path of the library they were linked with.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly"
    ) {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libferrio.so");
    }
}
