//! The micro-benches' profile. `cargo bench` runs them before the scenario suite, so by default
//! they are short (a second or so of measurement each, fewer rounds) and the suite's answer comes
//! within minutes; `JSBENCH_MICRO=full` gives the full measurements. Their own variables
//! (JSB_PROXY_ROUNDS, JSB_OVERHEAD_MSGS, …) still override either profile.

/// True with `JSBENCH_MICRO=full`.
pub fn full() -> bool {
    std::env::var("JSBENCH_MICRO").is_ok_and(|v| v == "full")
}

/// `quick` by default, `full` with `JSBENCH_MICRO=full`.
pub fn pick<T>(quick: T, full_value: T) -> T {
    if full() {
        full_value
    } else {
        quick
    }
}

/// The profile's name, for the benches' headers.
pub fn name() -> &'static str {
    pick(
        "quick (JSBENCH_MICRO=full for the full measurements)",
        "full",
    )
}
