//! Canvas drawing: heatmaps with axes, frequency-response curves, the waveform. Only drawing
//! lives here; every number drawn comes from the engine (the `modnet` crate).

use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

use modnet::{FilterResponses, Picture, SampleRate};

/// Plot area margins in canvas pixels (left leaves room for tag names).
pub const LEFT: f64 = 120.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 34.0;

/// Where the plot area of a canvas lies: x0, y0, width, height.
pub fn plot_area(canvas: &HtmlCanvasElement, axes: bool) -> (f64, f64, f64, f64) {
    let (w, h) = (canvas.width() as f64, canvas.height() as f64);
    if axes {
        (
            LEFT,
            TOP,
            (w - LEFT - RIGHT).max(1.0),
            (h - TOP - BOTTOM).max(1.0),
        )
    } else {
        (0.0, 0.0, w, h)
    }
}

fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas.get_context("2d").ok()??.dyn_into().ok()
}

/// Magma-like colour map, `t` in 0…1.
pub fn colour(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 6] = [
        [0.0, 0.0, 4.0],
        [59.0, 15.0, 112.0],
        [140.0, 41.0, 129.0],
        [222.0, 73.0, 104.0],
        [254.0, 159.0, 109.0],
        [252.0, 253.0, 191.0],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f32;
    let i = (x as usize).min(STOPS.len() - 2);
    let f = x - i as f32;
    let mut out = [0u8; 3];
    for (c, o) in out.iter_mut().enumerate() {
        *o = (STOPS[i][c] + f * (STOPS[i + 1][c] - STOPS[i][c])).round() as u8;
    }
    out
}

/// Axis labels and ticks of a plot.
pub struct Axes {
    /// Label under the x axis.
    pub x_label: String,
    /// Values at the left and right ends of the x axis.
    pub x_range: (f64, f64),
    /// Label of the y axis (drawn at the top left).
    pub y_label: String,
    /// Ticks on the y axis: position from the bottom (0…1) and text.
    pub y_ticks: Vec<(f64, String)>,
}

fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).abs().max(1e-9);
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + 1e-9 {
        out.push(t);
        t += step;
    }
    out
}

fn format_tick(v: f64) -> String {
    if v.abs() >= 1000.0 && (v / 1000.0).fract() == 0.0 {
        format!("{}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn draw_axes(ctx: &CanvasRenderingContext2d, area: (f64, f64, f64, f64), axes: &Axes) {
    let (x0, y0, w, h) = area;
    ctx.set_stroke_style_str("#555");
    ctx.set_fill_style_str("#222");
    ctx.set_font("11px sans-serif");
    ctx.stroke_rect(x0, y0, w, h);
    ctx.set_text_align("center");
    let (lo, hi) = axes.x_range;
    for t in nice_ticks(lo, hi, 8) {
        let x = x0 + (t - lo) / (hi - lo).max(1e-12) * w;
        ctx.begin_path();
        ctx.move_to(x, y0 + h);
        ctx.line_to(x, y0 + h + 4.0);
        ctx.stroke();
        let _ = ctx.fill_text(&format_tick(t), x, y0 + h + 15.0);
    }
    let _ = ctx.fill_text(&axes.x_label, x0 + w / 2.0, y0 + h + 29.0);
    ctx.set_text_align("right");
    for (pos, text) in &axes.y_ticks {
        let y = y0 + h - pos * h;
        let _ = ctx.fill_text(text, x0 - 6.0, y + 4.0);
    }
    ctx.save();
    ctx.set_text_align("center");
    let _ = ctx.translate(12.0, y0 + h / 2.0);
    let _ = ctx.rotate(-std::f64::consts::FRAC_PI_2);
    let _ = ctx.fill_text(&axes.y_label, 0.0, 0.0);
    ctx.restore();
}

/// Draws a heatmap (row 0 at the bottom), mapping `range` (or the picture's own range) onto the
/// colour map, with axes when given.
pub fn heatmap(
    canvas: &HtmlCanvasElement,
    map: &Picture,
    range: Option<(f32, f32)>,
    axes: Option<&Axes>,
) {
    let Some(ctx) = context(canvas) else { return };
    ctx.clear_rect(0.0, 0.0, canvas.width() as f64, canvas.height() as f64);
    if map.rows == 0 || map.cols == 0 || map.values.len() != map.rows * map.cols {
        return;
    }
    let (lo, hi) = range.unwrap_or_else(|| {
        map.values
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            })
    });
    let span = (hi - lo).max(1e-6);
    let mut pixels = Vec::with_capacity(map.rows * map.cols * 4);
    for r in (0..map.rows).rev() {
        for c in 0..map.cols {
            let [red, green, blue] = colour((map.values[r * map.cols + c] - lo) / span);
            pixels.extend_from_slice(&[red, green, blue, 255]);
        }
    }
    // The picture at its own size on a scratch canvas, then scaled into the plot area.
    let Some(scratch) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("canvas").ok())
        .and_then(|e| e.dyn_into::<HtmlCanvasElement>().ok())
    else {
        return;
    };
    scratch.set_width(map.cols as u32);
    scratch.set_height(map.rows as u32);
    let (Some(sctx), Ok(image)) = (
        context(&scratch),
        ImageData::new_with_u8_clamped_array_and_sh(
            Clamped(&pixels),
            map.cols as u32,
            map.rows as u32,
        ),
    ) else {
        return;
    };
    let _ = sctx.put_image_data(&image, 0.0, 0.0);
    let area = plot_area(canvas, axes.is_some());
    ctx.set_image_smoothing_enabled(false);
    let _ = ctx.draw_image_with_html_canvas_element_and_dw_and_dh(
        &scratch, area.0, area.1, area.2, area.3,
    );
    if let Some(axes) = axes {
        draw_axes(&ctx, area, axes);
    }
}

/// Frequency responses: one curve per filter (coloured low → high centre), dB clipped at
/// `floor_db`.
pub fn responses(
    canvas: &HtmlCanvasElement,
    r: &FilterResponses,
    floor_db: f32,
    highlight: Option<usize>,
) {
    let Some(ctx) = context(canvas) else { return };
    ctx.clear_rect(0.0, 0.0, canvas.width() as f64, canvas.height() as f64);
    let Some(&f_max) = r.freqs_hz.last() else {
        return;
    };
    let area = plot_area(canvas, true);
    let (x0, y0, w, h) = area;
    let top = r.peak_db(floor_db).max(floor_db + 1.0);
    let to_y = |db: f32| y0 + h - ((db.max(floor_db) - floor_db) / (top - floor_db)) as f64 * h;
    let n = r.magnitude_db.len().max(1);
    for (i, curve) in r.magnitude_db.iter().enumerate() {
        let [red, green, blue] = colour(0.15 + 0.75 * i as f32 / n as f32);
        let emphasised = highlight == Some(i);
        ctx.set_stroke_style_str(&format!(
            "rgba({red},{green},{blue},{})",
            if highlight.is_none() || emphasised {
                0.9
            } else {
                0.25
            }
        ));
        ctx.set_line_width(if emphasised { 2.5 } else { 1.0 });
        ctx.begin_path();
        for (k, (&f, &db)) in r.freqs_hz.iter().zip(curve).enumerate() {
            let x = x0 + (f / f_max) as f64 * w;
            let y = to_y(if db.is_finite() { db } else { floor_db });
            if k == 0 {
                ctx.move_to(x, y);
            } else {
                ctx.line_to(x, y);
            }
        }
        ctx.stroke();
    }
    ctx.set_line_width(1.0);
    let y_ticks = nice_ticks(floor_db as f64, top as f64, 5)
        .into_iter()
        .map(|v| {
            (
                ((v - floor_db as f64) / (top - floor_db) as f64),
                format!("{v:.0}"),
            )
        })
        .collect();
    draw_axes(
        &ctx,
        area,
        &Axes {
            x_label: "frequency (Hz)".into(),
            x_range: (0.0, f_max as f64),
            y_label: "gain (dB)".into(),
            y_ticks,
        },
    );
}

/// The waveform as min/max per pixel column, with a time axis in seconds.
pub fn waveform(canvas: &HtmlCanvasElement, samples: &[f32], sample_rate: SampleRate) {
    let Some(ctx) = context(canvas) else { return };
    ctx.clear_rect(0.0, 0.0, canvas.width() as f64, canvas.height() as f64);
    if samples.is_empty() {
        return;
    }
    let area = plot_area(canvas, true);
    let (x0, y0, w, h) = area;
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs())).max(1e-6);
    let columns = w as usize;
    ctx.set_fill_style_str("#3b6ea5");
    for c in 0..columns {
        let a = c * samples.len() / columns;
        let b = ((c + 1) * samples.len() / columns)
            .max(a + 1)
            .min(samples.len());
        let (lo, hi) = samples[a..b]
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, u), &s| {
                (l.min(s), u.max(s))
            });
        let top = y0 + h / 2.0 - (hi / peak) as f64 * h / 2.0;
        let bottom = y0 + h / 2.0 - (lo / peak) as f64 * h / 2.0;
        ctx.fill_rect(x0 + c as f64, top, 1.0, (bottom - top).max(1.0));
    }
    draw_axes(
        &ctx,
        area,
        &Axes {
            x_label: "time (s)".into(),
            x_range: (0.0, sample_rate.seconds(samples.len())),
            y_label: "amplitude".into(),
            y_ticks: vec![(0.5, "0".into())],
        },
    );
}

/// Tick labels for the rows of a filterbank picture: centre frequencies (Hz) of some bands.
pub fn band_ticks(centres_hz: &[f32], n: usize) -> Vec<(f64, String)> {
    let rows = centres_hz.len();
    if rows == 0 {
        return Vec::new();
    }
    (0..n)
        .map(|i| {
            let r = i * (rows - 1) / (n - 1).max(1);
            (
                (r as f64 + 0.5) / rows as f64,
                format_tick(centres_hz[r].round() as f64),
            )
        })
        .collect()
}
