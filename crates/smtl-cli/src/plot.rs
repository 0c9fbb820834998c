//! Training curves as a PNG, drawn from the metrics log.
//!
//! Text is rendered by plotters' `ab_glyph` backend with DejaVu Sans embedded
//! in the binary (the `dejavu` crate), so plotting needs no system fonts,
//! fontconfig or network.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use serde_json::Value;

/// A plot that could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("plot: {0}")]
    Draw(String),
    #[error("cannot create {path}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Width of the PNG written by [`plot_curves`], in pixels.
pub const PLOT_WIDTH: u32 = 1600;
/// Height of the PNG written by [`plot_curves`], in pixels.
pub const PLOT_HEIGHT: u32 = 600;
/// Window of the trailing moving average drawn over each task's losses.
pub const SMOOTHING_WINDOW: usize = 20;

const FONT: &str = "sans-serif";

/// tab10, the matplotlib default cycle.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Registers the embedded DejaVu Sans as plotters' "sans-serif" (once).
fn ensure_fonts() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .and_then(|_| register_font(FONT, FontStyle::Bold, dejavu::sans::bold()))
                .map_err(|_| "the embedded DejaVu Sans font could not be parsed".to_string())
        })
        .clone()
        .map_err(PlotError::Draw)
}

fn plot_err<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// Loss points `(step, loss)` per task, in step order.
fn step_losses(records: &[Value]) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in records.iter().filter(|r| r["kind"] == "step") {
        let (Some(step), Some(task), Some(loss)) =
            (r["step"].as_f64(), r["task"].as_str(), r["loss"].as_f64())
        else {
            continue;
        };
        if loss.is_finite() {
            out.entry(task.to_string()).or_default().push((step, loss));
        }
    }
    for points in out.values_mut() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Dev metric points `(epoch, value)` per `"task/metric"`: the numbers
/// directly under `dev.<task>` of each epoch record.
fn dev_metrics(records: &[Value]) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in records.iter().filter(|r| r["kind"] == "epoch") {
        let (Some(epoch), Some(dev)) = (r["epoch"].as_f64(), r["dev"].as_object()) else {
            continue;
        };
        for (task, metrics) in dev {
            let Some(metrics) = metrics.as_object() else {
                continue;
            };
            for (metric, value) in metrics {
                if let Some(v) = value.as_f64().filter(|v| v.is_finite()) {
                    out.entry(format!("{task}/{metric}"))
                        .or_default()
                        .push((epoch, v));
                }
            }
        }
    }
    for points in out.values_mut() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Trailing moving average over `window` points.
pub fn moving_average(values: &[f64], window: usize) -> Vec<f64> {
    let window = window.max(1);
    let mut sum = 0.0;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            sum += v;
            if i >= window {
                sum -= values[i - window];
            }
            sum / (i + 1).min(window) as f64
        })
        .collect()
}

/// `(min, max)` of the values, widened when degenerate.
fn range<'a>(values: impl Iterator<Item = &'a f64>, min_pad: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        (lo - min_pad, hi + min_pad)
    } else {
        (lo, hi)
    }
}

/// Axis label for steps and epochs: whole numbers only.
fn integer_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        String::new()
    }
}

/// Labels 1, 2, 5, 10, 20, 50, ... only: a log axis' other ticks crowd.
fn one_two_five_label(x: &f64) -> String {
    if *x <= 0.0 {
        return String::new();
    }
    let mantissa = x / 10f64.powf(x.log10().floor());
    if [1.0, 2.0, 5.0, 10.0]
        .iter()
        .any(|m| (mantissa - m).abs() < 1e-6)
    {
        format!("{}", x.round() as i64)
    } else {
        String::new()
    }
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// A white canvas of `size` pixels drawing into `out_png`, parent folders
/// created.
fn png_root(out_png: &Path, size: (u32, u32)) -> Result<Area<'_>, PlotError> {
    if let Some(parent) = out_png.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| PlotError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let root = BitMapBackend::new(out_png, size).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    Ok(root)
}

/// The series legend every panel draws, in a translucent box.
fn draw_legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> Result<(), PlotError> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, font_size))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(plot_err)
}

fn empty_panel(area: &Area<'_>, title: &str, message: &str) -> Result<(), PlotError> {
    let area = area
        .margin(12, 12, 12, 12)
        .titled(title, (FONT, 22))
        .map_err(plot_err)?;
    let (w, h) = area.dim_in_pixel();
    let grey = BLACK.mix(0.6);
    let style = TextStyle::from((FONT, 18).into_font()).color(&grey).pos(
        plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ),
    );
    area.draw_text(message, &style, (w as i32 / 2, h as i32 / 2))
        .map_err(plot_err)
}

fn loss_panel(
    area: &Area<'_>,
    losses: &BTreeMap<String, Vec<(f64, f64)>>,
) -> Result<(), PlotError> {
    let title = format!("Training loss per task (moving average over {SMOOTHING_WINDOW} steps)");
    if losses.is_empty() {
        return empty_panel(area, &title, "no training steps logged");
    }
    let (x0, x1) = range(losses.values().flatten().map(|(s, _)| s), 1.0);
    let (y0, y1) = range(losses.values().flatten().map(|(_, l)| l), 0.5);
    let (y0, y1) = (y0.min(0.0), y1 + 0.05 * (y1 - y0.min(0.0)));
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("optimizer step")
        .x_label_formatter(&integer_label)
        .y_desc("loss")
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .light_line_style(BLACK.mix(0.05))
        .draw()
        .map_err(plot_err)?;
    for (i, (task, points)) in losses.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.mix(0.2)))
            .map_err(plot_err)?;
        let raw: Vec<f64> = points.iter().map(|p| p.1).collect();
        let smooth = moving_average(&raw, SMOOTHING_WINDOW);
        // Markers while a task has too few points for a visible line.
        let marker = if points.len() < SMOOTHING_WINDOW {
            3
        } else {
            0
        };
        chart
            .draw_series(
                LineSeries::new(
                    points.iter().zip(smooth).map(|(p, s)| (p.0, s)),
                    c.stroke_width(2),
                )
                .point_size(marker),
            )
            .map_err(plot_err)?
            .label(task.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 16)
}

fn dev_panel(
    area: &Area<'_>,
    metrics: &BTreeMap<String, Vec<(f64, f64)>>,
) -> Result<(), PlotError> {
    let title = "Dev metrics per epoch";
    if metrics.is_empty() {
        return empty_panel(area, title, "no dev evaluations logged");
    }
    let (x0, x1) = range(metrics.values().flatten().map(|(e, _)| e), 0.5);
    let (y0, y1) = range(metrics.values().flatten().map(|(_, v)| v), 0.5);
    let (y0, y1) = (y0.min(0.0), y1.max(1.0));
    let (y0, y1) = (y0, y1 + 0.05 * (y1 - y0));
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("score")
        .x_label_formatter(&integer_label)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .light_line_style(BLACK.mix(0.05))
        .draw()
        .map_err(plot_err)?;
    for (i, (name, points)) in metrics.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)).point_size(4))
            .map_err(plot_err)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight, 16)
}

/// Draws a `PLOT_WIDTH` x `PLOT_HEIGHT` PNG with two panels from metrics-log
/// records: on the left the training loss of each task against the optimizer
/// step (raw, faint, and a trailing moving average over `SMOOTHING_WINDOW` of
/// that task's steps), from `{"kind":"step","step":..,"task":..,"loss":..}`
/// records; on the right one line per task metric against the epoch, from
/// the numbers under `dev.<task>` of `{"kind":"epoch","epoch":..,"dev":{..}}`
/// records. Other records are ignored; a panel with no data says so. Parent
/// folders of `out_png` are created.
pub fn plot_curves(records: &[Value], out_png: &Path) -> Result<(), PlotError> {
    ensure_fonts()?;
    let losses = step_losses(records);
    let metrics = dev_metrics(records);
    let root = png_root(out_png, (PLOT_WIDTH, PLOT_HEIGHT))?;
    let (left, right) = root.split_horizontally(PLOT_WIDTH / 2);
    loss_panel(&left, &losses)?;
    dev_panel(&right, &metrics)?;
    root.present().map_err(plot_err)
}

/// One panel of [`plot_bars`]: a value per category for each named series.
#[derive(Debug, Clone)]
pub struct BarPanel {
    pub title: String,
    pub x_desc: String,
    /// Fixed end of the value axis (e.g. 1.0 for scores); `None`: the data's.
    pub x_max: Option<f64>,
    /// `(series name, one value per category)`; NaN draws no bar.
    pub series: Vec<(String, Vec<f64>)>,
}

fn bar_panel(area: &Area<'_>, categories: &[String], panel: &BarPanel) -> Result<(), PlotError> {
    let values = panel
        .series
        .iter()
        .flat_map(|(_, v)| v.iter())
        .filter(|v| v.is_finite());
    let x1 = panel
        .x_max
        .unwrap_or_else(|| values.fold(0.0f64, |a, &b| a.max(b)).max(1e-9) * 1.08);
    let n = categories.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(if categories.is_empty() { 10 } else { 430 })
        .build_cartesian_2d(0.0..x1, 0.0..n.max(1.0))
        .map_err(plot_err)?;
    let names = categories.to_vec();
    let label = move |y: &f64| {
        // Category i sits in the band [n-1-i, n-i): first category on top.
        let i = (n - 0.5 - y).round();
        if (y.fract() - 0.5).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
            names[i as usize].clone()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(4 * categories.len().max(1) + 1)
        .y_label_formatter(&label)
        .x_desc(panel.x_desc.as_str())
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(BLACK.mix(0.05))
        .draw()
        .map_err(plot_err)?;
    let k = panel.series.len().max(1) as f64;
    let band = 0.8 / k;
    for (s, (name, values)) in panel.series.iter().enumerate() {
        let c = color(s);
        chart
            .draw_series(
                values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, &v)| {
                        let top = n - i as f64 - 0.1 - band * s as f64;
                        Rectangle::new([(0.0, top - band), (v, top)], c.filled())
                    }),
            )
            .map_err(plot_err)?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight, 15)
}

/// Draws side-by-side horizontal grouped bar charts, one per panel, over the
/// same `categories` (e.g. training regimes: scores in one panel, time per
/// epoch in the other). Parent folders of `out_png` are created.
pub fn plot_bars(
    categories: &[String],
    panels: &[BarPanel],
    out_png: &Path,
) -> Result<(), PlotError> {
    ensure_fonts()?;
    if panels.is_empty() {
        return Err(PlotError::Draw("no panel to draw".into()));
    }
    let width = 1000 * panels.len() as u32;
    let height = (160 + 44 * categories.len() as u32).max(400);
    let root = png_root(out_png, (width, height))?;
    for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
        bar_panel(area, categories, panel)?;
    }
    root.present().map_err(plot_err)
}

/// One panel of [`plot_lines`]: named series of `(x, y)` points, drawn as
/// lines with markers on a logarithmic x axis (for sizes that double:
/// batch sizes, sequence lengths) and a linear y axis from zero.
#[derive(Debug, Clone)]
pub struct LinePanel {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    /// `(series name, points)`; x must be positive, non-finite points are skipped.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

fn line_panel(area: &Area<'_>, panel: &LinePanel) -> Result<(), PlotError> {
    let points = || {
        panel
            .series
            .iter()
            .flat_map(|(_, p)| p.iter())
            .filter(|(x, y)| x.is_finite() && *x > 0.0 && y.is_finite())
    };
    if points().next().is_none() {
        return empty_panel(area, &panel.title, "no data");
    }
    let (x0, x1) = range(points().map(|(x, _)| x), 0.5);
    let (_, y1) = range(points().map(|(_, y)| y), 0.5);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        // Headroom above the data for the legend.
        .build_cartesian_2d((x0 / 1.15..x1 * 1.15).log_scale(), 0.0..y1 * 1.4)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc(panel.x_desc.as_str())
        .y_desc(panel.y_desc.as_str())
        .x_label_formatter(&one_two_five_label)
        .y_label_formatter(&|y: &f64| format!("{y:.0}"))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .light_line_style(BLACK.mix(0.05))
        .draw()
        .map_err(plot_err)?;
    for (i, (name, series)) in panel.series.iter().enumerate() {
        let c = color(i);
        let series: Vec<(f64, f64)> = series
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && *x > 0.0 && y.is_finite())
            .collect();
        chart
            .draw_series(LineSeries::new(series, c.stroke_width(2)).point_size(4))
            .map_err(plot_err)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 15)
}

/// Draws `panels` side by side (800 x 560 pixels each) into a PNG; parent
/// folders of `out_png` are created.
pub fn plot_lines(panels: &[LinePanel], out_png: &Path) -> Result<(), PlotError> {
    ensure_fonts()?;
    if panels.is_empty() {
        return Err(PlotError::Draw("no panel to draw".into()));
    }
    let root = png_root(out_png, (800 * panels.len() as u32, 560))?;
    for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
        line_panel(area, panel)?;
    }
    root.present().map_err(plot_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_plots_are_written_and_empty_input_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("sub/lines.png");
        let panel = LinePanel {
            title: "t".into(),
            x_desc: "x".into(),
            y_desc: "y".into(),
            series: vec![
                ("a".into(), vec![(1.0, 2.0), (8.0, 5.0), (32.0, f64::NAN)]),
                ("b".into(), vec![]),
            ],
        };
        plot_lines(&[panel], &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(plot_lines(&[], &png).is_err());
    }

    #[test]
    fn moving_average_is_trailing() {
        assert_eq!(
            moving_average(&[1.0, 3.0, 5.0, 7.0], 2),
            vec![1.0, 2.0, 4.0, 6.0]
        );
        assert_eq!(moving_average(&[2.0, 4.0], 20), vec![2.0, 3.0]);
        assert!(moving_average(&[], 3).is_empty());
    }

    #[test]
    fn extracts_series() {
        let records = vec![
            serde_json::json!({"kind":"step","step":2,"epoch":0,"task":"trec","loss":0.5,"lr_factor":0.4}),
            serde_json::json!({"kind":"step","step":1,"epoch":0,"task":"trec","loss":0.7,"lr_factor":0.2}),
            serde_json::json!({"kind":"step","step":3,"epoch":0,"task":"wnut","loss":null}),
            serde_json::json!({"kind":"epoch","epoch":0,"dev":{"trec":{"accuracy":0.9,"report":{"x":1}},"wnut":{"entity_f1":0.3}}}),
            serde_json::json!({"kind":"config"}),
        ];
        let l = step_losses(&records);
        assert_eq!(l.len(), 1);
        assert_eq!(l["trec"], vec![(1.0, 0.7), (2.0, 0.5)]);
        let m = dev_metrics(&records);
        assert_eq!(
            m.keys().collect::<Vec<_>>(),
            ["trec/accuracy", "wnut/entity_f1"]
        );
        assert_eq!(m["wnut/entity_f1"], vec![(0.0, 0.3)]);
    }
}
