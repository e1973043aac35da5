//! Third-party decoders on damaged input: a panic inside one (symphonia's CAF reader divides by
//! a header's zero, its AIFF reader asserts a non-zero rate) becomes an error naming what
//! stopped, not the end of a library run or of a Python interpreter.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

use anyhow::{Result, anyhow};

thread_local! {
    /// Whether this thread is inside [`catching_panics`]: its panics are reported as errors,
    /// so the panic hook stays quiet about them.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

static QUIET_HOOK: Once = Once::new();

/// Runs `work`; a panic inside it is returned as an error ("`what` stopped on damaged data:
/// …"), printed nowhere else. Panics on other threads are reported as before.
pub fn catching_panics<T>(what: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = GUARDED.with(|g| g.replace(true));
    let outcome = catch_unwind(AssertUnwindSafe(work));
    GUARDED.with(|g| g.set(was));
    outcome.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no reason given".into());
        Err(anyhow!("{what} stopped on damaged data ({why})"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_naming_it() {
        let error = catching_panics("the reader", || -> Result<u32> {
            let zero = std::hint::black_box(0u32);
            Ok(1 / zero)
        })
        .unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("the reader stopped on damaged data"),
            "{text}"
        );
        assert!(text.contains("divide by zero"), "{text}");
        // The guard is left: the next call runs unguarded work as usual.
        assert_eq!(catching_panics("x", || Ok(3)).unwrap(), 3);
    }
}
