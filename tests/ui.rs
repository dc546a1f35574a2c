//! trybuild: every diagnostic the macros emit (`ui-tests/fail`, one mistake per file, with the
//! `.stderr` a user sees; `user_lints.rs` shows the user's own lints still firing through the
//! attribute) and every supported function shape (`ui-tests/pass`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui-tests/fail/*.rs");
    t.pass("ui-tests/pass/*.rs");
}
