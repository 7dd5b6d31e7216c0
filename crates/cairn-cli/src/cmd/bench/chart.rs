//! The sweep's chart: one SVG per axis, two panels sharing the x axis —
//! committed tx/s above, all nodes' CPU ms per committed transaction below —
//! one marked point per row, each labelled with its value.
//!
//! Drawn with `plotters`' SVG backend only: text is written as SVG `<text>`
//! for the viewer to render, so no font library is needed to draw. The y
//! axes start at 0, so a flat line reads as flat and a doubling as double.

use plotters::coord::Shift;
use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;

use super::sweep::{Axis, Row};

/// Chart size, pixels.
const SIZE: (u32, u32) = (900, 760);
/// The two series' colours (blue, orange: readable for most colour vision).
const TPS_COLOUR: RGBColor = RGBColor(31, 119, 180);
const CPU_COLOUR: RGBColor = RGBColor(214, 95, 14);

/// The chart of `rows` along `axis` as an SVG document; `subtitle` says
/// what the points share (the options not swept).
pub fn svg(axis: Axis, rows: &[Row], subtitle: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let title = format!("cairn bench --sweep {}", axis.name());
        let root = root
            .titled(&title, ("sans-serif", 26).into_font())
            .map_err(plot_error)?;
        root.draw_text(
            subtitle,
            &("sans-serif", 15).into_font().color(&BLACK.mix(0.7)),
            (20, 0),
        )
        .map_err(plot_error)?;
        if let Some(g) = growth(axis, rows) {
            root.draw_text(&g, &("sans-serif", 15).into_font().color(&BLACK), (20, 20))
                .map_err(plot_error)?;
        }
        let body = root.margin(44, 0, 0, 0);
        let (top, bottom) = body.split_vertically(SIZE.1 / 2 - 30);
        let series = |y: fn(&Row) -> f64, what, colour, digits| Series {
            points: rows.iter().map(|r| (x_of(r), y(r))).collect(),
            what,
            colour,
            digits,
        };
        let panels = [
            (&top, series(|r| r.tps, "committed tx/s", TPS_COLOUR, 1)),
            (
                &bottom,
                series(
                    |r| r.node_ms_per_tx,
                    "node CPU ms per committed tx",
                    CPU_COLOUR,
                    3,
                ),
            ),
        ];
        let (lo, hi) = x_range(axis, rows);
        let x = PointsAxis {
            log: axis.log_scale(),
            range: lo..hi,
            ticks: rows.iter().map(x_of).collect(),
        };
        for (area, s) in panels {
            panel(area, axis, &s, x.clone())?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(out)
}

/// One panel's data.
struct Series {
    /// (x, y) per row.
    points: Vec<(f64, f64)>,
    /// What y is.
    what: &'static str,
    colour: RGBColor,
    /// Decimals of the value labels.
    digits: usize,
}

/// The x axis: linear or logarithmic, its ticks at the sweep's points (so
/// the axis reads as the values swept, not as round numbers between them).
#[derive(Clone, Debug)]
struct PointsAxis {
    log: bool,
    /// Positive when `log`.
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for PointsAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = |x: f64| {
            if self.log {
                x.max(f64::MIN_POSITIVE).ln()
            } else {
                x
            }
        };
        let (a, b) = (f(self.range.start), f(self.range.end));
        let t = if b > a { (f(*v) - a) / (b - a) } else { 0.5 };
        limit.0 + (f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Only bold ticks: light grid lines between points would mean nothing.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Draws one series in `area` with the x coordinates `x`.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    axis: Axis,
    s: &Series,
    x: PointsAxis,
) -> anyhow::Result<()> {
    let top = s.points.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let y_max = if top > 0.0 { top * 1.2 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{} vs {}", s.what, axis.caption()),
            ("sans-serif", 19).into_font(),
        )
        .margin(12)
        .margin_right(30)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x, 0.0..y_max)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(axis.caption())
        .y_desc(s.what)
        .x_label_formatter(&|v| tick(axis, *v))
        .y_label_formatter(&|v| format!("{v:.0$}", if y_max < 10.0 { 2 } else { 0 }))
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(LineSeries::new(
            s.points.iter().copied(),
            s.colour.stroke_width(2),
        ))
        .map_err(plot_error)?;
    // Each point: a dot, and its value just above it.
    chart
        .draw_series(s.points.iter().map(|p| {
            EmptyElement::at(*p)
                + Circle::new((0, 0), 5, s.colour.filled())
                + Text::new(
                    format!("{:.1$}", p.1, s.digits),
                    (6, -20),
                    ("sans-serif", 15).into_font().color(&BLACK),
                )
        }))
        .map_err(plot_error)?;
    Ok(())
}

/// How the two figures changed from the first point to the last, against
/// how x changed: the chart's one-line answer to "what grows linearly".
fn growth(axis: Axis, rows: &[Row]) -> Option<String> {
    let (first, last) = (rows.first()?, rows.last()?);
    if rows.len() < 2 || first.tps <= 0.0 || first.node_ms_per_tx <= 0.0 {
        return None;
    }
    let tps = last.tps / first.tps;
    let cpu = last.node_ms_per_tx / first.node_ms_per_tx;
    Some(match axis {
        Axis::Private => format!(
            "{} ÷ {}: committed tx/s ×{tps:.2}, node CPU per tx ×{cpu:.2}",
            last.point.label, first.point.label
        ),
        _ => format!(
            "{} → {} (×{}): committed tx/s ×{tps:.2}, node CPU per tx ×{cpu:.2}",
            tick(axis, first.point.value as f64),
            tick(axis, last.point.value as f64),
            round(last.point.value as f64 / first.point.value.max(1) as f64),
        ),
    })
}

/// A row's x coordinate: its value (private: 0 public, 1 private).
fn x_of(r: &Row) -> f64 {
    r.point.value as f64
}

/// The x range: the points with some room either side.
fn x_range(axis: Axis, rows: &[Row]) -> (f64, f64) {
    let xs = rows.iter().map(x_of);
    let lo = xs.clone().fold(f64::INFINITY, f64::min);
    let hi = xs.fold(f64::NEG_INFINITY, f64::max);
    match axis {
        Axis::Private => (-0.5, 1.5),
        _ if !lo.is_finite() => (1.0, 10.0),
        _ if axis.log_scale() => (lo / 1.5, hi * 1.5),
        _ => (lo - 1.0, hi + 1.0),
    }
}

/// An x tick's label.
fn tick(axis: Axis, v: f64) -> String {
    match axis {
        Axis::Private if v < 0.5 => "public".into(),
        Axis::Private => "private (collection of 2 orgs)".into(),
        Axis::Value if v >= 1024.0 => format!("{} KiB", round(v / 1024.0)),
        Axis::State if v >= 1e6 => format!("{}M", round(v / 1e6)),
        Axis::State if v >= 1e3 => format!("{}k", round(v / 1e3)),
        _ => round(v),
    }
}

/// A number with at most one decimal, none when whole.
fn round(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{:.0}", v.round())
    } else {
        format!("{v:.1}")
    }
}

fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("cannot draw the chart: {e:?}")
}

#[cfg(test)]
mod tests {
    use super::super::sweep::tests::row;
    use super::*;

    #[test]
    fn every_row_is_a_point_in_both_panels() {
        let rows = [
            row(Axis::Clients, "1", 120.0, 4.25),
            row(Axis::Clients, "16", 700.0, 2.5),
            row(Axis::Clients, "256", 650.0, 2.75),
        ];
        let svg = svg(Axis::Clients, &rows, "3 orgs, 10 s per point").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
        assert_eq!(svg.matches("<circle").count(), 2 * rows.len());
        for text in [
            "cairn bench --sweep clients",
            "3 orgs, 10 s per point",
            "committed tx/s",
            "node CPU ms per committed tx",
            "concurrent clients (log scale)",
            "700.0",
            "4.250",
            "1 → 256 (×256): committed tx/s ×5.42, node CPU per tx ×0.65",
        ] {
            assert!(svg.contains(text), "{text:?} missing");
        }
    }

    #[test]
    fn private_ticks_name_the_two_points() {
        let rows = [
            row(Axis::Private, "public", 500.0, 3.0),
            row(Axis::Private, "private", 380.0, 4.0),
        ];
        let svg = svg(Axis::Private, &rows, "").unwrap();
        std::fs::write("/tmp/private.svg", &svg).unwrap();
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("\npublic\n") && svg.contains("\nprivate (collection"));
        assert!(svg.contains("private ÷ public: committed tx/s ×0.76, node CPU per tx ×1.33"));
    }

    #[test]
    fn ticks_read_as_sizes_and_counts() {
        assert_eq!(tick(Axis::Value, 65536.0), "64 KiB");
        assert_eq!(tick(Axis::Value, 100.0), "100");
        assert_eq!(tick(Axis::State, 1e7), "10M");
        assert_eq!(tick(Axis::State, 1e4), "10k");
        assert_eq!(tick(Axis::Orgs, 5.0), "5");
    }
}
