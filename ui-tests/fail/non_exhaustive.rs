// The snapshot structs, `Transition`, `Violation` and `ConfigValue` are `#[non_exhaustive]`:
// a user can read them but not build one, nor match one exhaustively, so the crate can add a
// field or a variant without breaking anyone.
use breaker::{ConfigValue, Rejections};

fn describe(value: ConfigValue) -> &'static str {
    match value {
        ConfigValue::Duration(_) => "duration",
        ConfigValue::Ratio(_) => "ratio",
        ConfigValue::Count(_) => "count",
        ConfigValue::Number(_) => "number",
    }
}

fn main() {
    let _ = describe(ConfigValue::Count(1));
    let _ = Rejections {
        open: 0,
        half_open_exhausted: 0,
        global_open: 0,
        forced_open: 0,
    };
}
