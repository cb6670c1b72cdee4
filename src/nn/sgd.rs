//! Plain minibatch SGD with optional heavy-ball momentum (PyTorch's convention):
//! $v \leftarrow \mu v + g$, $\theta \leftarrow \theta - \eta v$; with $\mu = 0$ simply
//! $\theta \leftarrow \theta - \eta g$. The gradient $g$ may arrive in pieces (one per batch shard),
//! summed here in a fixed order so the update does not depend on thread timing.

use super::loss::{BatchLoss, LossError};
use super::matmul;
use super::model::{split_block_mut, Params};
use super::scalar::{self, Scalar};
use super::tape::{backward_sgd, forward_loss, forward_loss_data, ranges, Tape, TapeMode};
use crate::architecture::Architecture;
use faer::Par;
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

/// `b -= lr * (sum over the columns of g)`, subtracting one column after the other.
pub(crate) fn bias_step<T: Scalar>(b: &mut [T], lr: T, g: &[T]) {
    let n = b.len();
    for gc in g.chunks_exact(n) {
        for (bi, &gi) in b.iter_mut().zip(gc) {
            *bi -= lr * gi;
        }
    }
}

/// Plain SGD step ($\mu = 0$) straight from the tapes of a batch (one whole-batch tape, or a
/// batch split into shards): for every tensor, $\theta \leftarrow \theta - \eta \sum_s
/// \partial_\theta E_s$, with each weight gradient product accumulated into the weights by faer
/// (no gradient buffer, no separate update pass). Each tape must be a `Full` tape after
/// [`super::tape::backward_data`] (whose cotangent already carries the $1/B$ of the mean loss).
/// With `parallel`, tensors are spread over the current rayon pool; the arithmetic of each tensor
/// does not depend on it.
pub fn apply_from_tapes<T: Scalar>(params: &mut Params<T>, tapes: &[&Tape<T>], lr: f64, parallel: bool, par: Par) {
    weight_pass(params, tapes, Op::Update(lr), parallel, par)
}

/// One plain SGD step ($\mu = 0$) of the training loop on a batch of `batch` samples (inputs
/// written by `fill(c0, c1, input)` for the samples `c0..c1`, see
/// [`super::tape::forward_loss`]) on the mean loss, unless `accept` rejects the batch loss (the
/// divergence check): then no parameter changes. Returns the batch loss and whether the step was
/// taken. With one column range ([`super::tape::ranges`] of the batch and `threads`) the
/// backward sweep updates every tensor as it goes ([`super::tape::backward_sgd`]); with more,
/// each range runs its forward pass, loss and backward data path without waiting for the others
/// ([`super::tape::forward_loss_data`]), then every tensor is updated by one product over the
/// whole batch, the tensors spread over the current rayon pool ([`apply_from_tapes`]). The result
/// is the same in both cases.
#[allow(clippy::too_many_arguments)]
pub fn sgd_step<T: Scalar>(
    params: &mut Params<T>,
    tape: &mut Tape<T>,
    batch: usize,
    labels: &[u8],
    lr: f64,
    threads: usize,
    par: Par,
    fill: &(dyn Fn(usize, usize, &mut [T]) + Sync),
    accept: impl FnOnce(&BatchLoss) -> bool,
) -> Result<(BatchLoss, bool), LossError> {
    sgd_step_judged(params, tape, batch, labels, lr, threads, par, fill, |r, _| accept(r))
}

/// [`sgd_step`] whose check `accept` also sees the tape after the forward pass (every layer's
/// forward quantities of the batch, e.g. $x^L$ = [`Tape::x`]`(L)`), before any update.
#[allow(clippy::too_many_arguments)]
pub fn sgd_step_judged<T: Scalar>(
    params: &mut Params<T>,
    tape: &mut Tape<T>,
    batch: usize,
    labels: &[u8],
    lr: f64,
    threads: usize,
    par: Par,
    fill: &(dyn Fn(usize, usize, &mut [T]) + Sync),
    accept: impl FnOnce(&BatchLoss, &Tape<T>) -> bool,
) -> Result<(BatchLoss, bool), LossError> {
    let scale = 1.0 / batch.max(1) as f64;
    if ranges(batch, threads) == 1 {
        let r = forward_loss(params, tape, batch, labels, Some(scale), 1, fill)?;
        if !accept(&r, tape) {
            return Ok((r, false));
        }
        backward_sgd(params, tape, lr)?;
        Ok((r, true))
    } else {
        let r = forward_loss_data(params, tape, batch, labels, scale, threads, fill)?;
        if !accept(&r, tape) {
            return Ok((r, false));
        }
        apply_from_tapes(params, &[tape], lr, true, par);
        Ok((r, true))
    }
}

/// The parameter gradient of the batch in a `Full` tape after [`super::tape::backward_data`],
/// into `grads` (overwritten): $\partial W = \partial Y X^\top$ with the whole batch as the inner
/// dimension, bias gradients summed over the samples in order. With `parallel`, tensors are
/// spread over the current rayon pool; the result does not depend on it.
pub fn grads_from_tape<T: Scalar>(grads: &mut Params<T>, tape: &Tape<T>, parallel: bool, par: Par) {
    weight_pass(grads, &[tape], Op::Grad, parallel, par)
}

#[derive(Clone, Copy)]
enum Op {
    /// $\theta \leftarrow \theta - \eta\,\partial_\theta E$.
    Update(f64),
    /// The target holds $\partial_\theta E$.
    Grad,
}

/// One weight product per tensor: `target -= lr dY X^T` (fused update, summed over `tapes`) or
/// `target = dY X^T` (gradient, one tape); biases likewise with the column sums.
fn weight_pass<T: Scalar>(target: &mut Params<T>, tapes: &[&Tape<T>], op: Op, parallel: bool, par: Par) {
    assert!(tapes.iter().all(|t| t.mode() == TapeMode::Full), "a weight pass needs Full tapes");
    assert!(matches!(op, Op::Update(_)) || tapes.len() == 1, "a gradient comes from one tape");
    let layout = target.layout().clone();
    let n = layout.width;
    let arch = layout.arch;
    let depth = layout.depth;
    let (alpha, lr_t) = match op {
        Op::Update(lr) => (T::of(-lr), T::of(lr)),
        Op::Grad => (T::one(), T::zero()),
    };
    // `w (+)= alpha dy x^T` over the tapes; `b -= lr (column sums of g)` or `b = column sums of g`.
    let weight =
        |w: &mut [T], dy: &dyn Fn(&Tape<T>) -> &[T], x: &dyn Fn(&Tape<T>) -> &[T], n_in: usize, n_out: usize| {
            for t in tapes {
                match op {
                    Op::Update(_) => matmul::weight_update(w, alpha, dy(t), x(t), n_in, n_out, t.batch(), par),
                    Op::Grad => matmul::backward_weight(w, dy(t), x(t), n_in, n_out, t.batch(), par),
                }
            }
        };
    let bias = |b: &mut [T], g: &dyn Fn(&Tape<T>) -> &[T]| {
        for t in tapes {
            match op {
                Op::Update(_) => bias_step(b, lr_t, g(t)),
                Op::Grad => scalar::sum_columns(b.len(), g(t), b),
            }
        }
    };
    let (embed, blocks, readout) = target.regions_mut();
    let block_task = |i: usize, chunk: &mut [T]| {
        let l = i + 1;
        let blk = split_block_mut(chunk, n, arch);
        match arch {
            Architecture::Full => {
                weight(blk.v, &|t| t.dx(l), &|t| t.phi(l), n, n);
                bias(blk.a, &|t| t.dx(l));
                weight(blk.w, &|t| t.dh(l), &|t| t.x(l - 1), n, n);
                bias(blk.b, &|t| t.dh(l));
            }
            Architecture::Reduced | Architecture::Vanilla => {
                weight(blk.w, &|t| t.dx(l), &|t| t.phi(l), n, n);
                bias(blk.b, &|t| t.dx(l));
            }
        }
    };
    let ends = || {
        if let (Some((ew, eb)), Some(d)) = (embed, layout.input_dim) {
            weight(ew, &|t| t.dx(0), &|t| t.input(), d, n);
            bias(eb, &|t| t.dx(0));
        }
        if let (Some((rw, rb)), Some(k)) = (readout, layout.output_dim) {
            weight(rw, &|t| t.output_grad(), &|t| t.x(depth), n, k);
            bias(rb, &|t| t.output_grad());
        }
    };
    let bl = layout.block_len();
    if parallel {
        rayon::join(ends, || blocks.par_chunks_mut(bl.max(1)).enumerate().for_each(|(i, c)| block_task(i, c)));
    } else {
        ends();
        for (i, c) in blocks.chunks_mut(bl.max(1)).enumerate() {
            block_task(i, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::nn::tape::{backward, backward_data, forward};
    use crate::nn::{init, softmax_xent, ModelSpec};

    #[test]
    fn fused_step_equals_backward_then_sgd() {
        // Two shards of 5 and 3 samples; reference: whole-batch backward, then Sgd::step.
        for arch in [Architecture::Vanilla, Architecture::Reduced, Architecture::Full] {
            let spec = ModelSpec {
                input_dim: Some(7),
                output_dim: Some(4),
                ..ModelSpec::trunk(arch, Activation::Tanh, 6, 3, 1.2, 0.8, 0.1, 0.1)
            };
            let p0 = init::<f64>(&spec, 3).unwrap();
            let u: Vec<f64> = (0..8 * 7).map(|i| ((i * 37 % 11) as f64 - 5.0) / 4.0).collect();
            let labels = [0u8, 3, 1, 2, 2, 0, 1, 3];
            let lr = 0.3;

            let mut whole = Tape::<f64>::new(&spec, 8, TapeMode::Train, Par::Seq);
            whole.input_mut(8).unwrap().copy_from_slice(&u);
            forward(&p0, &mut whole).unwrap();
            softmax_xent(&mut whole, &labels, Some(1.0 / 8.0)).unwrap();
            let mut g = p0.zeros_like();
            backward(&p0, &mut whole, &mut g).unwrap();
            let mut reference = p0.clone();
            Sgd::<f64>::new(lr, 0.0, g.as_slice().len()).step(reference.as_mut_slice(), &[g.as_slice()], false);

            for parallel in [false, true] {
                let mut tapes: Vec<Tape<f64>> = (0..2).map(|_| Tape::new(&spec, 5, TapeMode::Full, Par::Seq)).collect();
                for (t, (lo, hi)) in tapes.iter_mut().zip([(0, 5), (5, 8)]) {
                    t.input_mut(hi - lo).unwrap().copy_from_slice(&u[lo * 7..hi * 7]);
                    forward(&p0, t).unwrap();
                    softmax_xent(t, &labels[lo..hi], Some(1.0 / 8.0)).unwrap();
                    backward_data(&p0, t).unwrap();
                }
                let mut fused = p0.clone();
                let refs: Vec<&Tape<f64>> = tapes.iter().collect();
                apply_from_tapes(&mut fused, &refs, lr, parallel, Par::Seq);
                for (i, (a, b)) in fused.as_slice().iter().zip(reference.as_slice()).enumerate() {
                    assert!((a - b).abs() < 1e-14, "{arch} parameter {i}: {a} vs {b}");
                }
                assert_ne!(fused, p0);
            }
        }
    }

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
