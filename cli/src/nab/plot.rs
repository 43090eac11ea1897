//! One PNG per NAB series: the value with the label windows shaded, and below it Homeostat's
//! score with the alert level and the alarms raised. Drawn on a small raster of our own (lines,
//! rectangles, a 5×7 font for the title) and written with the `png` crate.

use std::path::Path;

use anyhow::Context;
use homeostat_detector::univariate::UnivariateConfig;

use super::homeostat::{SeriesRun, held};
use super::{Corpus, Series, probation};

const W: usize = 1400;
const H: usize = 560;

type Rgb = [u8; 3];
const INK: Rgb = [40, 40, 40];
const GRID: Rgb = [225, 225, 225];
const VALUE: Rgb = [31, 94, 168];
const SCORE: Rgb = [90, 90, 90];
const LEVEL: Rgb = [214, 120, 0];
const ALARM: Rgb = [200, 30, 30];
const WINDOW: Rgb = [253, 221, 221];
const PROBATION: Rgb = [238, 238, 238];

struct Canvas {
    px: Vec<u8>,
}

impl Canvas {
    fn new() -> Self {
        Self {
            px: vec![255; W * H * 3],
        }
    }
    fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < W && (y as usize) < H {
            let i = (y as usize * W + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }
    fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        for y in y0.min(y1)..=y0.max(y1) {
            for x in x0.min(x1)..=x0.max(x1) {
                self.set(x, y, c);
            }
        }
    }
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }
    fn text(&mut self, x: i64, y: i64, s: &str, scale: i64, c: Rgb) {
        let mut cx = x;
        for ch in s.chars() {
            let g = glyph(ch);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0b10000 >> col) != 0 {
                        self.rect(
                            cx + col * scale,
                            y + row as i64 * scale,
                            cx + col * scale + scale - 1,
                            y + row as i64 * scale + scale - 1,
                            c,
                        );
                    }
                }
            }
            cx += 6 * scale;
        }
    }
}

/// A 5×7 glyph, one row per byte (bit 4 is the left column); unknown characters draw as a box.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        'A' => [14, 17, 17, 31, 17, 17, 17],
        'B' => [30, 17, 17, 30, 17, 17, 30],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'D' => [28, 18, 17, 17, 17, 18, 28],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'G' => [14, 17, 16, 23, 17, 17, 15],
        'H' => [17, 17, 17, 31, 17, 17, 17],
        'I' => [14, 4, 4, 4, 4, 4, 14],
        'J' => [7, 2, 2, 2, 2, 18, 12],
        'K' => [17, 18, 20, 24, 20, 18, 17],
        'L' => [16, 16, 16, 16, 16, 16, 31],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'N' => [17, 17, 25, 21, 19, 17, 17],
        'O' => [14, 17, 17, 17, 17, 17, 14],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        'Q' => [14, 17, 17, 17, 21, 18, 13],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'S' => [15, 16, 16, 14, 1, 1, 30],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'U' => [17, 17, 17, 17, 17, 17, 14],
        'V' => [17, 17, 17, 17, 17, 10, 4],
        'W' => [17, 17, 17, 21, 21, 21, 10],
        'X' => [17, 17, 10, 4, 10, 17, 17],
        'Y' => [17, 17, 17, 10, 4, 4, 4],
        'Z' => [31, 1, 2, 4, 8, 16, 31],
        ' ' => [0; 7],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        ',' => [0, 0, 0, 0, 12, 4, 8],
        ':' => [0, 12, 12, 0, 12, 12, 0],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        '_' => [0, 0, 0, 0, 0, 0, 31],
        '/' => [0, 1, 2, 4, 8, 16, 0],
        '(' => [2, 4, 8, 8, 8, 4, 2],
        ')' => [8, 4, 2, 2, 2, 4, 8],
        '=' => [0, 0, 31, 0, 31, 0, 0],
        '%' => [24, 25, 2, 4, 8, 19, 3],
        _ => [31, 17, 17, 17, 17, 17, 31],
    }
}

/// Draw one series.
pub fn draw(path: &Path, s: &Series, run: &SeriesRun, level: f64, cfg: &UnivariateConfig) -> anyhow::Result<()> {
    let n = s.values.len().max(2);
    let mut c = Canvas::new();
    let (left, right) = (70i64, W as i64 - 20);
    let (vt, vb) = (40i64, 330i64); // value panel
    let (st, sb) = (360i64, 520i64); // score panel
    let x_of = |i: usize| left + ((right - left) as f64 * i as f64 / (n - 1) as f64) as i64;
    // Probation and label windows, behind everything.
    let p = probation(s.values.len());
    c.rect(x_of(0), vt, x_of(p), sb, PROBATION);
    for &(l, r) in &s.windows {
        c.rect(x_of(l), vt, x_of(r), sb, WINDOW);
    }
    for (top, bottom) in [(vt, vb), (st, sb)] {
        for k in 0..=4 {
            let y = top + (bottom - top) * k / 4;
            c.line((left, y), (right, y), GRID);
        }
        c.line((left, top), (left, bottom), INK);
        c.line((left, bottom), (right, bottom), INK);
    }
    // Value.
    let (lo, hi) = s
        .values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let y_of_v = |v: f64| vb - (((v - lo) / span) * (vb - vt - 4) as f64) as i64 - 2;
    let mut prev = None;
    for (i, v) in s.values.iter().enumerate() {
        let pt = (x_of(i), y_of_v(if v.is_finite() { *v } else { lo }));
        if let Some(q) = prev {
            c.line(q, pt, VALUE);
        }
        prev = Some(pt);
    }
    // Score, level, alarms.
    let shown = held(&run.scores(), level, cfg);
    let y_of_s = |x: f64| sb - ((x.clamp(0.0, 1.0)) * (sb - st) as f64) as i64;
    let mut prev = None;
    for (i, x) in shown.iter().enumerate() {
        let pt = (x_of(i), y_of_s(*x));
        if let Some(q) = prev {
            c.line(q, pt, SCORE);
        }
        prev = Some(pt);
    }
    let ly = y_of_s(level);
    let mut x = left;
    while x < right {
        c.line((x, ly), ((x + 8).min(right), ly), LEVEL);
        x += 14;
    }
    let mut alarms = 0;
    for (i, x) in shown.iter().enumerate() {
        if i >= p && *x >= level {
            alarms += 1;
            let ax = x_of(i);
            c.line((ax, vt), (ax, vb), ALARM);
            c.rect(ax - 2, y_of_s(*x) - 2, ax + 2, y_of_s(*x) + 2, ALARM);
        }
    }
    // Text.
    c.text(left, 10, &s.key, 2, INK);
    c.text(
        left + 560,
        14,
        &format!(
            "{} ROWS, {} WINDOWS, {} ALARMS, LEVEL {:.3}",
            s.values.len(),
            s.windows.len(),
            alarms,
            level
        ),
        1,
        INK,
    );
    c.text(6, vt, &short(hi), 1, INK);
    c.text(6, vb - 7, &short(lo), 1, INK);
    c.text(6, st, "1", 1, INK);
    c.text(6, sb - 7, "0", 1, INK);
    c.text(6, (vt + vb) / 2, "VALUE", 1, VALUE);
    c.text(6, (st + sb) / 2, "SCORE", 1, SCORE);
    let legend = [
        (WINDOW, "LABEL WINDOW"),
        (PROBATION, "PROBATION"),
        (LEVEL, "ALERT LEVEL"),
        (ALARM, "ALARM"),
    ];
    let mut lx = left;
    for (col, name) in legend {
        c.rect(lx, 536, lx + 14, 546, col);
        c.text(lx + 20, 538, name, 1, INK);
        lx += 20 + 6 * name.len() as i64 + 30;
    }
    write_png(path, &c)
}

fn short(v: f64) -> String {
    if v.abs() >= 1e5 || (v != 0.0 && v.abs() < 1e-2) {
        format!("{v:.2e}")
    } else {
        format!("{v:.1}")
    }
}

fn write_png(path: &Path, c: &Canvas) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), W as u32, H as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().context("writing PNG header")?;
    w.write_image_data(&c.px).context("writing PNG data")?;
    w.finish().context("finishing PNG")?;
    Ok(())
}

/// Draw every series of the corpus under `dir` as `<category>/<file>.png`.
pub fn all(dir: &Path, corpus: &Corpus, runs: &[SeriesRun], level: f64, cfg: &UnivariateConfig) -> anyhow::Result<()> {
    for (s, r) in corpus.series.iter().zip(runs) {
        let path = dir.join(s.key.replace(".csv", ".png"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        draw(&path, s, r, level, cfg)?;
    }
    Ok(())
}
