//! Compiles the one piece of C the server needs: INCRBYFLOAT's `long double`
//! arithmetic (see csrc/long_double.c for why it cannot be Rust).

fn main() {
    println!("cargo:rerun-if-changed=csrc/long_double.c");
    cc::Build::new().file("csrc/long_double.c").warnings(true).compile("cinnabar_long_double");
}
