//! Clipping to the plotting area: segments (Liang–Barsky), polylines and polygons
//! (Sutherland–Hodgman) against an axis-aligned rectangle.

/// Axis-aligned clip rectangle in transformed data space.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clip {
    pub(super) x0: f64,
    pub(super) x1: f64,
    pub(super) y0: f64,
    pub(super) y1: f64,
}

impl Clip {
    /// Whether `p` lies in the rectangle (borders included).
    pub(super) fn contains(&self, p: (f64, f64)) -> bool {
        p.0 >= self.x0 && p.0 <= self.x1 && p.1 >= self.y0 && p.1 <= self.y1
    }

    /// Liang–Barsky clipping of segment `a -> b`; `None` if it lies outside.
    pub(super) fn segment(&self, a: (f64, f64), b: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (p, q) in [(-dx, a.0 - self.x0), (dx, self.x1 - a.0), (-dy, a.1 - self.y0), (dy, self.y1 - a.1)] {
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
                if t0 > t1 {
                    return None;
                }
            }
        }
        Some(((a.0 + t0 * dx, a.1 + t0 * dy), (a.0 + t1 * dx, a.1 + t1 * dy)))
    }

    /// Clip a polyline; returns the visible pieces.
    pub(super) fn polyline(&self, pts: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
        let mut out: Vec<Vec<(f64, f64)>> = vec![];
        let mut cur: Vec<(f64, f64)> = vec![];
        if pts.len() == 1 {
            let p = pts[0];
            if self.contains(p) {
                out.push(vec![p]);
            }
            return out;
        }
        for w in pts.windows(2) {
            match self.segment(w[0], w[1]) {
                Some((a, b)) => {
                    if cur.last().is_none_or(|l| *l != a) {
                        if cur.len() > 1 {
                            out.push(std::mem::take(&mut cur));
                        }
                        cur.clear();
                        cur.push(a);
                    }
                    cur.push(b);
                }
                None => {
                    if cur.len() > 1 {
                        out.push(std::mem::take(&mut cur));
                    }
                    cur.clear();
                }
            }
        }
        if cur.len() > 1 {
            out.push(cur);
        }
        out
    }

    /// Sutherland–Hodgman clipping of a polygon.
    pub(super) fn polygon(&self, pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
        type Inside = fn(&Clip, (f64, f64)) -> bool;
        type Cross = fn(&Clip, (f64, f64), (f64, f64)) -> (f64, f64);
        fn lerp_x(a: (f64, f64), b: (f64, f64), x: f64) -> (f64, f64) {
            let t = (x - a.0) / (b.0 - a.0);
            (x, a.1 + t * (b.1 - a.1))
        }
        fn lerp_y(a: (f64, f64), b: (f64, f64), y: f64) -> (f64, f64) {
            let t = (y - a.1) / (b.1 - a.1);
            (a.0 + t * (b.0 - a.0), y)
        }
        let edges: [(Inside, Cross); 4] = [
            (|c, p| p.0 >= c.x0, |c, a, b| lerp_x(a, b, c.x0)),
            (|c, p| p.0 <= c.x1, |c, a, b| lerp_x(a, b, c.x1)),
            (|c, p| p.1 >= c.y0, |c, a, b| lerp_y(a, b, c.y0)),
            (|c, p| p.1 <= c.y1, |c, a, b| lerp_y(a, b, c.y1)),
        ];
        let mut poly = pts.to_vec();
        for (inside, cross) in edges {
            if poly.is_empty() {
                break;
            }
            let input = std::mem::take(&mut poly);
            let mut prev = *input.last().unwrap_or(&(0.0, 0.0));
            for &p in &input {
                let (pi, qi) = (inside(self, p), inside(self, prev));
                if pi {
                    if !qi {
                        poly.push(cross(self, prev, p));
                    }
                    poly.push(p);
                } else if qi {
                    poly.push(cross(self, prev, p));
                }
                prev = p;
            }
        }
        poly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping() {
        let c = Clip { x0: 0.0, x1: 1.0, y0: 0.0, y1: 1.0 };
        let s = c.segment((-1.0, 0.5), (2.0, 0.5)).unwrap();
        assert_eq!(s, ((0.0, 0.5), (1.0, 0.5)));
        assert!(c.segment((-1.0, 2.0), (2.0, 2.0)).is_none());
        let pieces = c.polyline(&[(0.5, 0.5), (0.5, 2.0), (0.7, 2.0), (0.7, 0.5)]);
        assert_eq!(pieces.len(), 2);
        let poly = c.polygon(&[(-1.0, -1.0), (2.0, -1.0), (2.0, 2.0), (-1.0, 2.0)]);
        let area: f64 =
            poly.iter().zip(poly.iter().cycle().skip(1)).map(|(a, b)| a.0 * b.1 - b.0 * a.1).sum::<f64>() / 2.0;
        assert!((area.abs() - 1.0).abs() < 1e-12);
    }
}
