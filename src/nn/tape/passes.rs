//! The passes of a [`super::Tape`] over a range of columns (samples), on raw pointers into its
//! buffers so that several threads can run them on disjoint ranges at the same time: the forward
//! pass, the backward pass (with or without parameter gradients) and the one-sweep backward pass
//! with SGD update. The public entry points are in [`super`].

use super::TapeMode;
use crate::architecture::Architecture;
use crate::nn::matmul;
use crate::nn::model::Params;
use crate::nn::scalar::{self, Kernel, Scalar};
use crate::nn::sgd::bias_step;
use faer::Par;

/// The tape's geometry and the base pointers of its buffers: what a pass over a range of columns
/// (samples) needs. Built from `&mut Tape` by [`Tape::raw`] and used only while that borrow lasts;
/// passes running at the same time on several threads touch disjoint column ranges.
#[derive(Clone, Copy)]
pub(super) struct Raw<T> {
    pub(super) arch: Architecture,
    pub(super) kernel: Kernel<T>,
    pub(super) n: usize,
    pub(super) depth: usize,
    pub(super) in_dim: usize,
    pub(super) embed: bool,
    pub(super) out_dim: Option<usize>,
    pub(super) mode: TapeMode,
    pub(super) keep_h: bool,
    pub(super) cap: usize,
    pub(super) par: Par,
    pub(super) input: *mut T,
    pub(super) xs: *mut T,
    pub(super) hs: *mut T,
    pub(super) phis: *mut T,
    pub(super) out: *mut T,
    pub(super) dout: *mut T,
    pub(super) dxs: *mut T,
    pub(super) dhs: *mut T,
    pub(super) tmp: *mut T,
}

// SAFETY: a `Raw` is only a set of pointers into buffers owned by a `Tape` that is mutably
// borrowed while the `Raw` is in use; threads sharing it access disjoint column ranges.
unsafe impl<T: Send> Send for Raw<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Sync> Sync for Raw<T> {}

impl<T: Scalar> Raw<T> {
    /// Columns `c0..c1` (samples) of slot `s` of the buffer at `base`, whose slots hold `cap`
    /// columns of `feat` values.
    ///
    /// # Safety
    /// The slot must exist in the buffer, `c1 <= cap`, the tape must be mutably borrowed for the
    /// lifetime `'a`, and no other live reference may overlap the returned slice.
    #[inline]
    pub(super) unsafe fn cols<'a>(&self, base: *mut T, feat: usize, s: usize, c0: usize, c1: usize) -> &'a mut [T] {
        debug_assert!(c0 <= c1 && c1 <= self.cap);
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(base.add((s * self.cap + c0) * feat), (c1 - c0) * feat) }
    }

    fn x_slot(&self, l: usize) -> usize {
        if self.mode == TapeMode::Inference {
            l % 2
        } else {
            l
        }
    }

    fn hp_slot(&self, l: usize) -> usize {
        if self.mode == TapeMode::Inference {
            0
        } else {
            l - 1
        }
    }

    fn dx_slot(&self, l: usize) -> usize {
        if self.mode == TapeMode::Full {
            l
        } else {
            l % 2
        }
    }

    /// Forward pass of the samples `c0..c1`.
    ///
    /// # Safety
    /// See [`Raw::cols`]: no other pass may run on an overlapping column range at the same time.
    pub(super) unsafe fn forward(&self, params: &Params<T>, c0: usize, c1: usize) {
        let (n, b, par, k) = (self.n, c1 - c0, self.par, self.kernel);
        // SAFETY (every `cols` below): slots in range, distinct slots or buffers for the slices
        // alive together, columns c0..c1 owned by this call.
        unsafe {
            if let (Some(ew), Some(eb), Some(d)) = (params.embed_w(), params.embed_b(), params.layout().input_dim) {
                let x0 = self.cols(self.xs, n, 0, c0, c1);
                scalar::add_bias_columns(n, None, eb, x0);
                matmul::forward(x0, true, ew, self.cols(self.input, d, 0, c0, c1), d, n, b, par);
            }
            for l in 1..=self.depth {
                let blk = params.block(l - 1);
                let xp: &[T] = self.cols(self.xs, n, self.x_slot(l - 1), c0, c1);
                let xl = self.cols(self.xs, n, self.x_slot(l), c0, c1);
                let s = self.hp_slot(l);
                let phi = self.cols(self.phis, n, s, c0, c1);
                match self.arch {
                    Architecture::Full => {
                        let h = if self.keep_h {
                            self.cols(self.hs, n, s, c0, c1)
                        } else {
                            self.cols(self.tmp, n, 0, c0, c1)
                        };
                        matmul::forward(h, false, blk.w, xp, n, n, b, par);
                        scalar::frn_forward(k, n, blk.b, h, phi, xp, blk.a, xl);
                        matmul::forward(xl, true, blk.v, phi, n, n, b, par);
                    }
                    Architecture::Reduced => {
                        scalar::act_forward(k, xp, phi);
                        scalar::add_bias_columns(n, Some(xp), blk.b, xl);
                        matmul::forward(xl, true, blk.w, phi, n, n, b, par);
                    }
                    Architecture::Vanilla => {
                        scalar::act_forward(k, xp, phi);
                        scalar::add_bias_columns(n, None, blk.b, xl);
                        matmul::forward(xl, true, blk.w, phi, n, n, b, par);
                    }
                }
            }
            if let (Some(rw), Some(rb), Some(kk)) = (params.readout_w(), params.readout_b(), self.out_dim) {
                let xl: &[T] = self.cols(self.xs, n, self.x_slot(self.depth), c0, c1);
                let out = self.cols(self.out, kk, 0, c0, c1);
                scalar::add_bias_columns(kk, None, rb, out);
                matmul::forward(out, true, rw, xl, n, kk, b, par);
            }
        }
    }

    /// Backward pass of the samples `c0..c1` (see [`backward`]); parameter gradients (`grads`)
    /// only when the range is the whole batch.
    ///
    /// # Safety
    /// As [`Raw::forward`]; the tape is in mode `Train` or `Full`.
    pub(super) unsafe fn backward(
        &self,
        params: &Params<T>,
        mut grads: Option<&mut Params<T>>,
        from_output: bool,
        c0: usize,
        c1: usize,
    ) {
        let (n, b, par, k) = (self.n, c1 - c0, self.par, self.kernel);
        let full_mode = self.mode == TapeMode::Full;
        let depth = self.depth;
        // SAFETY (every `cols` below): as in `forward`; g and gp are distinct slots in both modes.
        unsafe {
            if !from_output {
                if let Some((gw, gb)) = grads.as_mut().and_then(|g| g.readout_mut()) {
                    gw.fill(T::zero());
                    gb.fill(T::zero());
                }
            } else if let (Some(rw), Some(kk)) = (params.readout_w(), self.out_dim) {
                let xl: &[T] = self.cols(self.xs, n, depth, c0, c1);
                let dout: &[T] = self.cols(self.dout, kk, 0, c0, c1);
                if let Some((gw, gb)) = grads.as_mut().and_then(|g| g.readout_mut()) {
                    matmul::backward_weight(gw, dout, xl, n, kk, b, par);
                    scalar::sum_columns(kk, dout, gb);
                }
                let g = self.cols(self.dxs, n, self.dx_slot(depth), c0, c1);
                matmul::backward_input(g, false, rw, dout, n, kk, b, par);
            }
            for l in (1..=depth).rev() {
                let blk = params.block(l - 1);
                let mut gblk = grads.as_mut().map(|g| g.block_mut(l - 1));
                let xp: &[T] = self.cols(self.xs, n, l - 1, c0, c1);
                let phi: &[T] = self.cols(self.phis, n, l - 1, c0, c1);
                // g = dE/dx^l (read), gp = dE/dx^{l-1} (written).
                let g: &[T] = self.cols(self.dxs, n, self.dx_slot(l), c0, c1);
                let gp = self.cols(self.dxs, n, self.dx_slot(l - 1), c0, c1);
                match self.arch {
                    Architecture::Full => {
                        // Without h^l, the derivative is taken from phi (passed as both).
                        let h: &[T] = if self.keep_h { self.cols(self.hs, n, l - 1, c0, c1) } else { phi };
                        let dh = if full_mode {
                            self.cols(self.dhs, n, l - 1, c0, c1)
                        } else {
                            self.cols(self.tmp, n, 0, c0, c1)
                        };
                        if let Some(gb) = gblk.as_mut() {
                            scalar::sum_columns(n, g, &mut gb.a[..]);
                            matmul::backward_weight(&mut gb.v[..], g, phi, n, n, b, par);
                        }
                        matmul::backward_input(dh, false, blk.v, g, n, n, b, par);
                        scalar::act_backward(k, n, h, phi, dh, gblk.as_mut().map(|gb| &mut gb.b[..]));
                        if let Some(gb) = gblk.as_mut() {
                            matmul::backward_weight(&mut gb.w[..], dh, xp, n, n, b, par);
                        }
                        matmul::backward_input(gp, false, blk.w, dh, n, n, b, par);
                        scalar::add_assign(gp, g);
                    }
                    Architecture::Reduced | Architecture::Vanilla => {
                        if let Some(gb) = gblk.as_mut() {
                            scalar::sum_columns(n, g, &mut gb.b[..]);
                            matmul::backward_weight(&mut gb.w[..], g, phi, n, n, b, par);
                        }
                        matmul::backward_input(gp, false, blk.w, g, n, n, b, par);
                        scalar::act_backward(k, n, xp, phi, gp, None);
                        if self.arch == Architecture::Reduced {
                            scalar::add_assign(gp, g);
                        }
                    }
                }
            }
            if let (Some(d), Some(grads)) = (params.layout().input_dim, grads) {
                let g0: &[T] = self.cols(self.dxs, n, 0, c0, c1);
                let u: &[T] = self.cols(self.input, d, 0, c0, c1);
                let (gw, gb) = grads.embed_mut().expect("same layout");
                matmul::backward_weight(gw, g0, u, d, n, b, par);
                scalar::sum_columns(n, g0, gb);
            }
        }
    }
}

impl<T: Scalar> Raw<T> {
    /// Backward pass and plain SGD step of the whole batch `0..b` in one sweep (see
    /// [`backward_sgd`]): every tensor is updated as soon as the data path has used it, with
    /// $\partial E/\partial x$ in two slots used in turn and $\partial E/\partial h$ in the scratch.
    ///
    /// # Safety
    /// As [`Raw::forward`]; the tape is in mode `Train` or `Full` (both have two gradient slots
    /// and the scratch) and `params` has the tape's layout.
    pub(super) unsafe fn backward_sgd(&self, params: &mut Params<T>, lr: f64, b: usize) {
        let (n, par, k) = (self.n, self.par, self.kernel);
        let (neg, lr) = (T::of(-lr), T::of(lr));
        let depth = self.depth;
        // FRN: g^{l-1} = g^l + W^T dh accumulates in place (one slot); otherwise two in turn.
        let full = self.arch == Architecture::Full;
        let slot = |l: usize| if full { 0 } else { l % 2 };
        // SAFETY (every `cols` below): slots in range; g and gp are distinct slots (or, for FRN,
        // the same slot borrowed one use at a time), dh is the scratch; this call owns the tape.
        unsafe {
            if let (Some(kk), Some((rw, rb))) = (self.out_dim, params.readout_mut()) {
                let xl: &[T] = self.cols(self.xs, n, depth, 0, b);
                let dout: &[T] = self.cols(self.dout, kk, 0, 0, b);
                let g = self.cols(self.dxs, n, slot(depth), 0, b);
                matmul::backward_input(g, false, rw, dout, n, kk, b, par);
                matmul::weight_update(rw, neg, dout, xl, n, kk, b, par);
                bias_step(rb, lr, dout);
            }
            for l in (1..=depth).rev() {
                let blk = params.block_mut(l - 1);
                let xp: &[T] = self.cols(self.xs, n, l - 1, 0, b);
                let phi: &[T] = self.cols(self.phis, n, l - 1, 0, b);
                if full {
                    let h: &[T] = if self.keep_h { self.cols(self.hs, n, l - 1, 0, b) } else { phi };
                    let dh = self.cols(self.tmp, n, 0, 0, b);
                    let g = self.cols(self.dxs, n, 0, 0, b);
                    matmul::backward_input(dh, false, blk.v, g, n, n, b, par);
                    matmul::weight_update(blk.v, neg, g, phi, n, n, b, par);
                    bias_step(blk.a, lr, g);
                    scalar::act_backward(k, n, h, phi, dh, None);
                    // g <- g + W^T dh: the same rounding as W^T dh, then + g.
                    matmul::backward_input(g, true, blk.w, dh, n, n, b, par);
                    matmul::weight_update(blk.w, neg, dh, xp, n, n, b, par);
                    bias_step(blk.b, lr, dh);
                } else {
                    let g: &[T] = self.cols(self.dxs, n, slot(l), 0, b);
                    let gp = self.cols(self.dxs, n, slot(l - 1), 0, b);
                    matmul::backward_input(gp, false, blk.w, g, n, n, b, par);
                    scalar::act_backward(k, n, xp, phi, gp, None);
                    if self.arch == Architecture::Reduced {
                        scalar::add_assign(gp, g);
                    }
                    matmul::weight_update(blk.w, neg, g, phi, n, n, b, par);
                    bias_step(blk.b, lr, g);
                }
            }
            if let (Some(d), Some((ew, eb))) = (params.layout().input_dim, params.embed_mut()) {
                let g0: &[T] = self.cols(self.dxs, n, 0, 0, b);
                let u: &[T] = self.cols(self.input, d, 0, 0, b);
                matmul::weight_update(ew, neg, g0, u, d, n, b, par);
                bias_step(eb, lr, g0);
            }
        }
    }
}

/// A raw pointer to per-sample values written by disjoint column ranges.
#[derive(Clone, Copy)]
pub(super) struct SharedMut<U>(pub(super) *mut U);
// SAFETY: used only by `forward_loss`, whose ranges write disjoint elements.
unsafe impl<U: Send> Send for SharedMut<U> {}
// SAFETY: as for `Send`.
unsafe impl<U: Send> Sync for SharedMut<U> {}

impl<U> SharedMut<U> {
    /// # Safety
    /// `c1` is within the allocation and no other live reference overlaps `c0..c1`.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn slice<'a>(&self, c0: usize, c1: usize) -> &'a mut [U] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(c0), c1 - c0) }
    }
}
