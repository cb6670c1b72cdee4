//! Level sets of a gridded field: [`marching_squares`] segments and [`contour_lines`] polylines
//! (plotters has no contouring).

use std::collections::HashMap;

/// Segments of the level set $\{(x,y) : f(x,y) = c\}$ of a gridded field, by marching squares.
///
/// `z[j][i]` $= f(x_i, y_j)$; `x`, `y` must have the lengths of a row and of `z`. On every grid
/// edge whose end values straddle `level` (a corner counts as "above" when $f \ge c$) the crossing
/// is placed by linear interpolation, $p = a + \frac{c - f(a)}{f(b) - f(a)}(b - a)$, so the result
/// is exact for fields linear along the edges. Saddle cells (diagonally opposite corners above)
/// are disambiguated with the cell-centre mean of the four corners. Cells with a non-finite
/// corner are skipped. Mismatched shapes give no segments.
pub fn marching_squares(x: &[f64], y: &[f64], z: &[Vec<f64>], level: f64) -> Vec<[(f64, f64); 2]> {
    let mut out = vec![];
    if z.len() != y.len() || z.iter().any(|r| r.len() != x.len()) || x.len() < 2 || y.len() < 2 || !level.is_finite() {
        return out;
    }
    // Edge crossing between grid points a and b, always interpolated from the lower-index end so
    // adjacent cells produce bit-identical points (needed to chain segments).
    let cross = |pa: (f64, f64), fa: f64, pb: (f64, f64), fb: f64| -> (f64, f64) {
        let t = ((level - fa) / (fb - fa)).clamp(0.0, 1.0);
        (pa.0 + t * (pb.0 - pa.0), pa.1 + t * (pb.1 - pa.1))
    };
    for j in 0..y.len() - 1 {
        for i in 0..x.len() - 1 {
            let (f00, f10, f01, f11) = (z[j][i], z[j][i + 1], z[j + 1][i], z[j + 1][i + 1]);
            if !(f00.is_finite() && f10.is_finite() && f01.is_finite() && f11.is_finite()) {
                continue;
            }
            let (p00, p10, p01, p11) = ((x[i], y[j]), (x[i + 1], y[j]), (x[i], y[j + 1]), (x[i + 1], y[j + 1]));
            let (a00, a10, a01, a11) = (f00 >= level, f10 >= level, f01 >= level, f11 >= level);
            let bottom = (a00 != a10).then(|| cross(p00, f00, p10, f10));
            let top = (a01 != a11).then(|| cross(p01, f01, p11, f11));
            let left = (a00 != a01).then(|| cross(p00, f00, p01, f01));
            let right = (a10 != a11).then(|| cross(p10, f10, p11, f11));
            let pts: Vec<(f64, f64)> = [bottom, right, top, left].into_iter().flatten().collect();
            match pts.len() {
                2 => out.push([pts[0], pts[1]]),
                4 => {
                    let (b, r, t, l) = (pts[0], pts[1], pts[2], pts[3]);
                    let centre_above = (f00 + f10 + f01 + f11) / 4.0 >= level;
                    if centre_above == a00 {
                        // 00 and 11 connected through the centre: cut off corners 10 and 01.
                        out.push([b, r]);
                        out.push([l, t]);
                    } else {
                        // cut off corners 00 and 11.
                        out.push([b, l]);
                        out.push([r, t]);
                    }
                }
                _ => {}
            }
        }
    }
    out.retain(|s| s[0] != s[1]);
    out
}

/// Level-set polylines: the [`marching_squares`] segments chained at shared end points. A closed
/// contour is returned with its first point repeated at the end.
pub fn contour_lines(x: &[f64], y: &[f64], z: &[Vec<f64>], level: f64) -> Vec<Vec<(f64, f64)>> {
    let segs = marching_squares(x, y, z, level);
    let key = |p: (f64, f64)| (p.0.to_bits(), p.1.to_bits());
    let mut adj: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
    for (k, s) in segs.iter().enumerate() {
        adj.entry(key(s[0])).or_default().push(k);
        adj.entry(key(s[1])).or_default().push(k);
    }
    let mut used = vec![false; segs.len()];
    let next_from = |p: (f64, f64), used: &[bool]| -> Option<usize> {
        adj.get(&key(p)).and_then(|v| v.iter().copied().find(|&k| !used[k]))
    };
    let other = |k: usize, p: (f64, f64)| {
        if segs[k][0] == p {
            segs[k][1]
        } else {
            segs[k][0]
        }
    };
    let mut lines = vec![];
    // Start open lines at end points of odd degree so they come out whole.
    let odd = |p: (f64, f64)| adj.get(&key(p)).is_some_and(|v| v.len() % 2 == 1);
    let mut starts: Vec<usize> = (0..segs.len()).filter(|&k| odd(segs[k][0]) || odd(segs[k][1])).collect();
    starts.extend(0..segs.len());
    for s in starts {
        if used[s] {
            continue;
        }
        used[s] = true;
        let (a, b) = (segs[s][0], segs[s][1]);
        // Orient so an odd-degree end starts the line.
        let (a, b) = if odd(b) && !odd(a) { (b, a) } else { (a, b) };
        let mut line = vec![a, b];
        while let Some(k) = next_from(*line.last().unwrap_or(&b), &used) {
            used[k] = true;
            let p = other(k, *line.last().unwrap_or(&b));
            line.push(p);
        }
        let mut head = vec![];
        while let Some(k) = next_from(*head.last().unwrap_or(&a), &used) {
            used[k] = true;
            let p = other(k, *head.last().unwrap_or(&a));
            head.push(p);
        }
        if !head.is_empty() {
            head.reverse();
            head.extend(line);
            line = head;
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).collect()
    }

    #[test]
    fn marching_squares_circle_within_interpolation_bound() {
        // f = x^2 + y^2, level r^2. Along a grid edge of length h, f is a quadratic with second
        // derivative 2, so linear interpolation errs by at most 2 h^2 / 8 in f at the crossing p:
        // |p|^2 - r^2| <= h^2/4, hence ||p| - r| <= h^2 / (4 (|p| + r)) <= h^2 / (4 r).
        let n = 81;
        let xs = grid(n, -2.0, 2.0);
        let h = xs[1] - xs[0];
        let z: Vec<Vec<f64>> = xs.iter().map(|&y| xs.iter().map(|&x| x * x + y * y).collect()).collect();
        for r in [0.5, 1.0, 1.7] {
            let segs = marching_squares(&xs, &xs, &z, r * r);
            assert!(segs.len() > 20, "too few segments for r = {r}");
            let bound = h * h / (4.0 * r) + 1e-12;
            let mut worst: f64 = 0.0;
            for s in &segs {
                for p in s {
                    let d = ((p.0 * p.0 + p.1 * p.1).sqrt() - r).abs();
                    worst = worst.max(d);
                    assert!(d <= bound, "point {p:?} is {d} from the circle r = {r} (bound {bound})");
                }
            }
            // The error bound is attained to within a factor of a few (the test can fail).
            assert!(worst > 0.0);
            // Polyline length ~ 2 pi r (inscribed polygon: slightly shorter).
            let lines = contour_lines(&xs, &xs, &z, r * r);
            assert_eq!(lines.len(), 1, "one closed contour for r = {r}");
            let l = &lines[0];
            assert_eq!(l.first(), l.last(), "closed contour");
            let len: f64 = l.windows(2).map(|w| ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt()).sum();
            let circ = 2.0 * std::f64::consts::PI * r;
            assert!((len - circ).abs() / circ < 0.01, "length {len} vs 2 pi r = {circ}");
        }
    }

    #[test]
    fn marching_squares_exact_for_linear_field_on_uneven_grid() {
        // f = x + 2y is linear along every edge, so crossings are exact even on a non-uniform grid.
        let x: Vec<f64> = (0..15).map(|i| (i as f64 * 0.3).exp() / 10.0).collect();
        let y: Vec<f64> = (0..11).map(|j| -1.0 + (j as f64).powf(1.5) / 10.0).collect();
        let z: Vec<Vec<f64>> = y.iter().map(|&y| x.iter().map(|&x| x + 2.0 * y).collect()).collect();
        let level = 3.0;
        let segs = marching_squares(&x, &y, &z, level);
        assert!(!segs.is_empty());
        for s in &segs {
            for p in s {
                assert!((p.0 + 2.0 * p.1 - level).abs() < 1e-12, "{p:?}");
            }
        }
        let lines = contour_lines(&x, &y, &z, level);
        assert_eq!(lines.len(), 1, "a straight level line is one open polyline");
        assert_eq!(lines[0].len(), segs.len() + 1);
    }

    #[test]
    fn marching_squares_saddle_and_holes() {
        // f = x*y on a grid that avoids the exact saddle point; level 0 is the two axes.
        let xs = grid(10, -1.0, 1.0); // no grid point at 0
        let z: Vec<Vec<f64>> = xs.iter().map(|&y| xs.iter().map(|&x| x * y).collect()).collect();
        for s in marching_squares(&xs, &xs, &z, 0.0) {
            for p in s {
                assert!(p.0.abs() < 1e-12 || p.1.abs() < 1e-12, "{p:?} not on an axis");
            }
        }
        // NaN holes and empty input do not panic.
        let mut z2 = z.clone();
        z2[4][4] = f64::NAN;
        let _ = contour_lines(&xs, &xs, &z2, 0.1);
        assert!(marching_squares(&[], &[], &[], 0.0).is_empty());
        assert!(marching_squares(&xs, &xs, &z[..3], 0.0).is_empty(), "shape mismatch gives nothing");
    }
}
