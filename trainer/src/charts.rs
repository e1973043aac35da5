//! PNG pictures (plotters): learned filter responses (the paper's Fig. 3 and 8), training curves,
//! per-tag ROC-AUC bars (Fig. 2) and the stride sweep's per-tag comparison (Fig. 4).
//! The numbers come from the `modnet` crate and the run's logs; only drawing lives here.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use modnet::{BankResponses, FilterResponses};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use crate::train::EpochLog;

/// TrueType fonts tried for the labels, in order (Debian's fonts-dejavu-core first).
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers a system font as plotters' "sans-serif" (once per process).
fn font() -> Result<()> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let bytes = FONTS.iter().find_map(|p| std::fs::read(p).ok()).ok_or_else(|| {
            format!(
                "plots need a TrueType font and none was found ({}); on Debian: apt-get install fonts-dejavu-core",
                FONTS.join(", ")
            )
        })?;
        register_font("sans-serif", FontStyle::Normal, Box::leak(bytes.into_boxed_slice()))
            .map_err(|_| "the font could not be read".to_string())
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

/// Colour of the `i`-th of `n` curves, low → high centre frequency.
fn ramp(i: usize, n: usize) -> RGBColor {
    let c = ViridisRGB::get_color_normalized(i as f64, 0.0, n.max(2) as f64 - 1.0);
    RGBColor(c.0, c.1, c.2)
}

fn draw_responses(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    title: &str,
    r: &FilterResponses,
    floor_db: f32,
) -> Result<()> {
    let f_max = *r.freqs_hz.last().ok_or_else(|| anyhow!("no frequencies"))? as f64;
    let top = r.peak_db(floor_db) as f64 + 3.0;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..f_max, floor_db as f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("frequency (Hz)")
        .y_desc("gain (dB)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    let order = r.order_by_centre();
    for (rank, &i) in order.iter().enumerate() {
        let colour = ramp(rank, order.len());
        chart
            .draw_series(LineSeries::new(
                r.freqs_hz.iter().zip(&r.magnitude_db[i]).map(|(&f, &db)| {
                    let db = if db.is_finite() { db } else { floor_db };
                    (f as f64, db.max(floor_db) as f64)
                }),
                colour.stroke_width(1),
            ))
            .map_err(err)?;
    }
    Ok(())
}

/// The learned sinc filterbank (Fig. 3) and modulation filterbank (Fig. 8), one panel each.
pub fn filters(path: &Path, responses: &BankResponses, name: &str) -> Result<()> {
    font()?;
    let panels = if responses.modulation.is_some() { 2 } else { 1 };
    let root = BitMapBackend::new(path, (1200, 450 * panels)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((panels as usize, 1));
    draw_responses(
        &areas[0],
        &format!(
            "{name}: sinc filterbank ({} filters)",
            responses.filterbank.len()
        ),
        &responses.filterbank,
        -60.0,
    )?;
    if let Some(m) = &responses.modulation {
        draw_responses(
            &areas[1],
            &format!("modulation filterbank ({} filters)", m.len()),
            m,
            -40.0,
        )?;
    }
    root.present()
        .with_context(|| format!("writing {}", path.display()))
}

/// A curve of the training log: label, colour, value per epoch.
type Curve<'a> = (&'a str, RGBColor, fn(&EpochLog) -> f64);

/// One panel of per-epoch curves with a legend.
fn line_panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    title: &str,
    y: std::ops::Range<f64>,
    log: &[EpochLog],
    series: &[Curve],
    legend: SeriesLabelPosition,
) -> Result<()> {
    let first = log.first().map_or(1, |r| r.epoch) as f64;
    let last = log.last().map_or(1, |r| r.epoch) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(first - 0.5..last + 0.5, y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        // Epochs are whole: the axis's in-between ticks ("1.5") get no label.
        .x_labels(((last - first) as usize + 2).min(12))
        .x_label_formatter(&|v| epoch_label(*v))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for &(label, colour, pick) in series {
        chart
            .draw_series(LineSeries::new(
                log.iter().map(|r| (r.epoch as f64, pick(r))),
                colour.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)
}

/// The label of an epoch axis' tick at `v`: the epoch where `v` is whole, else nothing.
fn epoch_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// The span of the finite `values` with a tenth of it as margin on each side, within `bounds`:
/// a run's last epochs move the loss by thousandths, which an axis from 0 hides.
fn padded_range(
    values: impl Iterator<Item = f64>,
    bounds: std::ops::Range<f64>,
) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return bounds.start..bounds.start + 1.0;
    }
    let margin = ((hi - lo) * 0.1).max(hi.abs() * 1e-3).max(1e-6);
    (lo - margin).max(bounds.start)..(hi + margin).min(bounds.end)
}

/// Training curves: losses, and validation ROC-AUC / PR-AUC, per epoch.
pub fn curves(path: &Path, log: &[EpochLog]) -> Result<()> {
    font()?;
    if log.is_empty() {
        bail!("the training log is empty: nothing to plot");
    }
    let root = BitMapBackend::new(path, (1200, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (left, right) = root.split_horizontally(600);
    type Pick = fn(&EpochLog) -> f64;
    line_panel(
        &left,
        "loss (BCE)",
        padded_range(
            log.iter().flat_map(|r| [r.train_loss, r.valid_loss]),
            0.0..f64::MAX,
        ),
        log,
        &[
            ("train", BLUE, (|r: &EpochLog| r.train_loss) as Pick),
            ("valid", RED, |r: &EpochLog| r.valid_loss),
        ],
        SeriesLabelPosition::UpperRight,
    )?;
    line_panel(
        &right,
        "validation (macro)",
        padded_range(log.iter().flat_map(|r| [r.roc_auc, r.pr_auc]), 0.0..1.0),
        log,
        &[
            ("ROC-AUC", GREEN, (|r: &EpochLog| r.roc_auc) as Pick),
            ("PR-AUC", MAGENTA, |r: &EpochLog| r.pr_auc),
        ],
        SeriesLabelPosition::LowerRight,
    )?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))
}

/// Per-tag ROC-AUC as grouped horizontal bars: one group per tag, one bar per series (one
/// series: the paper's Fig. 2; one per stride: Fig. 4). Tags with no value are left blank.
pub fn tag_bars(path: &Path, tags: &[String], series: &[(String, Vec<Option<f64>>)]) -> Result<()> {
    font()?;
    if tags.is_empty() || series.is_empty() {
        bail!("no tags to plot");
    }
    let row = 8 + 10 * series.len() as u32;
    let height = (80 + row * tags.len() as u32).max(300);
    let root = BitMapBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let lowest = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold(1.0f64, |a, &b| a.min(b));
    let x0 = (lowest - 0.05).clamp(0.0, 0.5);
    let n = tags.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("per-tag ROC-AUC", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(140)
        .build_cartesian_2d(x0..1.0, 0.0..n)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("ROC-AUC")
        .y_labels(0)
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    // Tag names left of their bars, the first tag on top.
    for (t, tag) in tags.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(x0, n - t as f64 - 0.5));
        let style = ("sans-serif", 13)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(tag.clone(), (px - 8, py), style))
            .map_err(err)?;
    }
    let k = series.len() as f64;
    for (s, (label, values)) in series.iter().enumerate() {
        let colour = if series.len() == 1 {
            RGBColor(47, 111, 143)
        } else {
            ramp(s, series.len())
        };
        let bars = values.iter().enumerate().filter_map(|(t, v)| {
            let v = (*v)?;
            let top = n - t as f64 - 0.1 - 0.8 * s as f64 / k;
            Some(Rectangle::new(
                [(x0, top - 0.8 / k), (v.max(x0), top)],
                colour.filled(),
            ))
        });
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled()));
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(err)?;
    }
    root.present()
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_span_the_values_with_a_margin() {
        // A late run's losses: the axis spans them, not 0 to their maximum.
        let r = padded_range(
            [0.1587, 0.1586, 0.1302, f64::NAN].into_iter(),
            0.0..f64::MAX,
        );
        assert!(r.start > 0.12 && r.start < 0.1302, "{r:?}");
        assert!(r.end > 0.1587 && r.end < 0.165, "{r:?}");
        // Metrics stay within 0..1, and a PR-AUC of 0.3 is on the axis.
        let r = padded_range([0.3, 0.999].into_iter(), 0.0..1.0);
        assert!(r.start < 0.3 && r.end == 1.0, "{r:?}");
        // One value, or none: still a range to draw in.
        let r = padded_range([0.5].into_iter(), 0.0..1.0);
        assert!(r.start < 0.5 && r.end > 0.5, "{r:?}");
        let r = padded_range(std::iter::empty(), 0.0..1.0);
        assert!(r.end > r.start, "{r:?}");
    }

    #[test]
    fn epoch_axis_labels_only_whole_epochs() {
        assert_eq!(epoch_label(2.0), "2");
        assert_eq!(epoch_label(2.000_000_000_01), "2");
        assert_eq!(epoch_label(1.5), "");
        assert_eq!(epoch_label(0.75), "");
    }
}
