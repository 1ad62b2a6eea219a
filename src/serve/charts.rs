//! Line charts as numbers for an inline SVG: the server computes every coordinate, the
//! template draws them (no script, no third-party library, nothing fetched).

use serde::Serialize;

/// The drawing area, in SVG units.
const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 170.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 22.0;

/// One line of a chart.
#[derive(Debug, Clone)]
pub(super) struct Series {
    name: &'static str,
    /// The CSS class that colours it.
    class: &'static str,
    values: Vec<Option<f64>>,
}

impl Series {
    pub(super) fn new(name: &'static str, class: &'static str, values: Vec<Option<f64>>) -> Self {
        Series { name, class, values }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Chart {
    title: &'static str,
    width: f64,
    height: f64,
    /// Nothing to draw.
    empty: bool,
    lines: Vec<Line>,
    dots: Vec<Dot>,
    y_ticks: Vec<Tick>,
    x_ticks: Vec<Tick>,
    /// Plot area corners, for the axes.
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    legend: Vec<Legend>,
}

#[derive(Debug, Serialize)]
struct Line {
    class: &'static str,
    /// `x,y x,y …`: numbers only.
    points: String,
}

#[derive(Debug, Serialize)]
struct Dot {
    class: &'static str,
    x: String,
    y: String,
    title: String,
    href: String,
}

#[derive(Debug, Serialize)]
struct Tick {
    at: String,
    label: String,
}

#[derive(Debug, Serialize)]
struct Legend {
    name: &'static str,
    class: &'static str,
}

fn coord(v: f64) -> String {
    format!("{v:.1}")
}

/// A chart of `series` over the points `labels` (oldest first), each point linking to
/// `hrefs[i]`. The y axis starts at 0 and ends at `y_max` or the largest value.
pub(super) fn line_chart(
    title: &'static str,
    labels: &[String],
    hrefs: &[String],
    series: &[Series],
    format: impl Fn(f64) -> String,
    y_max: Option<f64>,
) -> Chart {
    let n = labels.len();
    let largest = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let top_value = y_max.unwrap_or(if largest > 0.0 { largest * 1.1 } else { 1.0 });
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| {
        if n <= 1 { LEFT + plot_w / 2.0 } else { LEFT + plot_w * i as f64 / (n - 1) as f64 }
    };
    let y = |v: f64| TOP + plot_h - (v.clamp(0.0, top_value) / top_value) * plot_h;
    let mut lines = Vec::new();
    let mut dots = Vec::new();
    let mut empty = true;
    for s in series {
        // A gap (no value) breaks the line.
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, lines: &mut Vec<Line>| {
            if run.len() > 1 {
                lines.push(Line { class: s.class, points: run.join(" ") });
            }
            run.clear();
        };
        for (i, value) in s.values.iter().enumerate() {
            match value.filter(|v| v.is_finite()) {
                Some(v) => {
                    empty = false;
                    run.push(format!("{},{}", coord(x(i)), coord(y(v))));
                    dots.push(Dot {
                        class: s.class,
                        x: coord(x(i)),
                        y: coord(y(v)),
                        title: format!(
                            "{} · {}: {}",
                            labels.get(i).map_or("", String::as_str),
                            s.name,
                            format(v)
                        ),
                        href: hrefs.get(i).cloned().unwrap_or_default(),
                    });
                }
                None => flush(&mut run, &mut lines),
            }
        }
        flush(&mut run, &mut lines);
    }
    let y_ticks = [0.0, 0.5, 1.0]
        .iter()
        .map(|f| Tick { at: coord(y(top_value * f)), label: format(top_value * f) })
        .collect();
    let mut x_ticks = Vec::new();
    if n > 0 {
        x_ticks.push(Tick { at: coord(x(0)), label: labels[0].clone() });
        if n > 1 {
            x_ticks.push(Tick { at: coord(x(n - 1)), label: labels[n - 1].clone() });
        }
    }
    Chart {
        title,
        width: WIDTH,
        height: HEIGHT,
        empty,
        lines,
        dots,
        y_ticks,
        x_ticks,
        left: LEFT,
        right: WIDTH - RIGHT,
        top: TOP,
        bottom: HEIGHT - BOTTOM,
        legend: series.iter().map(|s| Legend { name: s.name, class: s.class }).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_break_lines_and_values_stay_in_the_plot() {
        let labels: Vec<String> = (0..4).map(|i| format!("r{i}")).collect();
        let chart = line_chart(
            "t",
            &labels,
            &[],
            &[Series::new("s", "c", vec![Some(1.0), Some(2.0), None, Some(500.0)])],
            |v| format!("{v}"),
            Some(100.0),
        );
        assert_eq!(chart.lines.len(), 1, "the lone point after the gap is a dot, not a line");
        assert_eq!(chart.dots.len(), 3);
        // 500 is clamped to the top of a 0-100 axis.
        assert_eq!(chart.dots[2].y, coord(TOP));
        assert!(!chart.empty);
        let none =
            line_chart("t", &[], &[], &[Series::new("s", "c", vec![])], |v| format!("{v}"), None);
        assert!(none.empty);
    }
}
