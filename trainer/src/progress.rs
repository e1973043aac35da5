//! How long work shows progress: the bars' style, and plain lines where a bar cannot be drawn.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar style (the default one if the template is refused).
pub(crate) fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Progress for logs. Where a bar is hidden (stderr is not a terminal: `nohup`, a pipe), a
/// plain line at most once a `every` instead, so that an epoch of an hour in a log file still
/// says how far it is and when it ends.
pub(crate) struct LogLines {
    every: Duration,
    last: Instant,
}

impl LogLines {
    /// Lines for `bar` if it is hidden, else None (the bar itself shows progress).
    pub(crate) fn for_bar(bar: &ProgressBar, every: Duration) -> Option<Self> {
        bar.is_hidden().then(|| Self {
            every,
            last: Instant::now(),
        })
    }

    /// Prints [`LogLines::line`]'s line, if there is one.
    pub(crate) fn tick(&mut self, bar: &ProgressBar, what: &str, unit: &str) {
        if let Some(line) = self.line(bar, what, unit) {
            eprintln!("{line}");
        }
    }

    /// `what: pos/len unit (percent), elapsed, time left, message`, if `every` has passed since
    /// the last line.
    fn line(&mut self, bar: &ProgressBar, what: &str, unit: &str) -> Option<String> {
        if self.last.elapsed() < self.every {
            return None;
        }
        self.last = Instant::now();
        let (pos, len) = (bar.position(), bar.length().unwrap_or(0).max(1));
        let minutes = |d: Duration| d.as_secs_f64() / 60.0;
        let message = bar.message();
        Some(format!(
            "{what}: {pos}/{len} {unit} ({:.0} %), {:.1} min, about {:.1} min left{}{message}",
            100.0 * pos as f64 / len as f64,
            minutes(bar.elapsed()),
            minutes(bar.eta()),
            if message.is_empty() { "" } else { ", " },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_bar_gets_lines_at_most_once_an_interval() {
        let bar = ProgressBar::hidden();
        bar.set_length(200);
        bar.set_position(50);
        bar.set_message("loss 0.1234");
        let mut lines = LogLines::for_bar(&bar, Duration::ZERO).expect("hidden bar: lines");
        let line = lines.line(&bar, "epoch 2/40", "batches").unwrap();
        assert!(
            line.starts_with("epoch 2/40: 50/200 batches (25 %), "),
            "{line}"
        );
        assert!(line.ends_with("min left, loss 0.1234"), "{line}");
        let mut rare = LogLines::for_bar(&bar, Duration::from_secs(3600)).unwrap();
        assert_eq!(rare.line(&bar, "epoch 2/40", "batches"), None);
    }
}
