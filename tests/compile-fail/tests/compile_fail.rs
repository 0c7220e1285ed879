//! Diagnostics of `#[receiver]` and `#[derive(Signal)]`: every misuse must point at the
//! offending token with a clear message, and the passing cases must keep compiling.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui-pass/*.rs");
}
