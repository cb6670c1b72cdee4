//! Plain minibatch SGD with optional heavy-ball momentum (PyTorch's convention):
//! $v \leftarrow \mu v + g$, $\theta \leftarrow \theta - \eta v$; with $\mu = 0$ simply
//! $\theta \leftarrow \theta - \eta g$. The gradient $g$ may arrive in pieces (one per batch shard),
//! summed here in a fixed order so the update does not depend on thread timing.

use super::scalar::Scalar;
use rayon::prelude::*;

/// SGD state: learning rate $\eta$, momentum $\mu$ and, if $\mu > 0$, the velocity.
#[derive(Clone, Debug)]
pub struct Sgd<T> {
    pub lr: f64,
    pub momentum: f64,
    velocity: Vec<T>,
}

/// Elements per parallel update chunk.
const CHUNK: usize = 1 << 14;

impl<T: Scalar> Sgd<T> {
    /// SGD for a parameter vector of length `len`.
    pub fn new(lr: f64, momentum: f64, len: usize) -> Self {
        let velocity = if momentum > 0.0 { vec![T::zero(); len] } else { Vec::new() };
        Self { lr, momentum, velocity }
    }

    /// One step on `params` with gradient $g = \sum_s$ `grads[s]`. With `parallel`, the vector is
    /// cut into chunks updated on the current rayon pool (same arithmetic as sequential).
    pub fn step(&mut self, params: &mut [T], grads: &[&[T]], parallel: bool) {
        let lr = T::of(self.lr);
        let mu = T::of(self.momentum);
        let use_v = self.momentum > 0.0;
        let update = |off: usize, p: &mut [T], v: &mut [T]| {
            let r = off..off + p.len();
            match (grads, use_v) {
                // The common cases in one pass each (every loop is over contiguous slices and
                // vectorizes).
                ([g0], false) => {
                    for (pj, &a) in p.iter_mut().zip(&g0[r]) {
                        *pj -= lr * a;
                    }
                }
                ([g0, g1], false) => {
                    for ((pj, &a), &b) in p.iter_mut().zip(&g0[r.clone()]).zip(&g1[r]) {
                        *pj -= lr * (a + b);
                    }
                }
                _ => {
                    // General case: blocks of 256, the pieces summed into a stack buffer first.
                    let mut buf = [T::zero(); 256];
                    let mut start = 0;
                    while start < p.len() {
                        let len = (p.len() - start).min(256);
                        let g = &mut buf[..len];
                        let range = off + start..off + start + len;
                        g.fill(T::zero());
                        for gs in grads {
                            for (a, &b) in g.iter_mut().zip(&gs[range.clone()]) {
                                *a += b;
                            }
                        }
                        let pc = &mut p[start..start + len];
                        if use_v {
                            let vc = &mut v[start..start + len];
                            for ((pj, vj), &gj) in pc.iter_mut().zip(vc.iter_mut()).zip(g.iter()) {
                                *vj = mu * *vj + gj;
                                *pj -= lr * *vj;
                            }
                        } else {
                            for (pj, &gj) in pc.iter_mut().zip(g.iter()) {
                                *pj -= lr * gj;
                            }
                        }
                        start += len;
                    }
                }
            }
        };
        if parallel {
            if use_v {
                params
                    .par_chunks_mut(CHUNK)
                    .zip(self.velocity.par_chunks_mut(CHUNK))
                    .enumerate()
                    .for_each(|(c, (p, v))| update(c * CHUNK, p, v));
            } else {
                params.par_chunks_mut(CHUNK).enumerate().for_each(|(c, p)| update(c * CHUNK, p, &mut []));
            }
        } else if use_v {
            update(0, params, &mut self.velocity);
        } else {
            update(0, params, &mut []);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_momentum_steps_follow_the_recurrence() {
        let mut p = vec![1.0f64, -2.0, 0.5];
        let g1 = [0.1, 0.2, -0.3];
        let g2 = [0.05, 0.0, 0.1];
        let mut sgd = Sgd::<f64>::new(0.5, 0.0, 3);
        sgd.step(&mut p, &[&g1, &g2], false);
        assert_eq!(p, vec![1.0 - 0.5 * 0.15, -2.0 - 0.5 * 0.2, 0.5 - 0.5 * (-0.2)]);
        // Three pieces (general path) and one piece.
        let mut q = vec![1.0f64, -2.0, 0.5];
        sgd.step(&mut q, &[&g1, &g2, &g2], true);
        for i in 0..3 {
            assert!((q[i] - ([1.0, -2.0, 0.5][i] - 0.5 * (g1[i] + 2.0 * g2[i]))).abs() < 1e-15);
        }
        let mut r = vec![1.0f64, -2.0, 0.5];
        sgd.step(&mut r, &[&g1], false);
        assert_eq!(r, vec![1.0 - 0.05, -2.0 - 0.1, 0.5 + 0.15]);

        // Momentum 0.9, two steps with the same gradient: v1 = g, v2 = 1.9 g.
        let mut p = vec![0.0f64; 40_000];
        let g: Vec<f64> = (0..40_000).map(|i| (i as f64).sin()).collect();
        let mut sgd = Sgd::<f64>::new(0.1, 0.9, p.len());
        sgd.step(&mut p, &[&g], true);
        sgd.step(&mut p, &[&g], true);
        for (pi, gi) in p.iter().zip(&g) {
            assert!((pi + 0.1 * 2.9 * gi).abs() < 1e-15);
        }
    }
}
