//! Batched forward and backward passes over a preallocated workspace ([`Tape`]).
//!
//! A [`Tape`] is built once per (model shape, maximum batch size, mode) and reused for every
//! batch: the passes allocate nothing. It stores the per-layer quantities the simulations need and
//! exposes them through accessors (all buffers are sample-major, `n` features per sample, see
//! [`super::matmul`]):
//! - [`Tape::x`]`(l)` = $x^l$ for $l = 0..L$, [`Tape::h`]`(l)` = $h^l$ (FRN, $l = 1..L$),
//!   [`Tape::phi`]`(l)` = $\phi(h^l)$ (FRN) or $\phi(x^{l-1})$ (vanilla, RRN);
//! - after [`backward`], [`Tape::dx`]`(l)` = $\partial E/\partial x^l$ for $l = 0..L$ and, for
//!   FRN, [`Tape::dh`]`(l)` = $\partial E/\partial h^l$ ([`TapeMode::Full`]), and the parameter
//!   gradients in a [`Params`] of the model's layout ([`Params::block`] per block).
//!
//! The cotangent is set by [`super::loss::softmax_xent`] or written by the caller into
//! [`Tape::output_grad_mut`] (at the logits, or at $x^L$ for a trunk-only model) or
//! [`Tape::top_grad_mut`] (at $x^L$ of a model with readout, then [`backward_from_top`]).
//!
//! The training loop ([`super::train`]) uses a [`Tape::for_training`] tape: [`forward_loss`] runs
//! the forward pass and the loss of a batch in column ranges on several threads, then either
//! [`backward_sgd`] (one sweep that updates each tensor as it goes) or [`backward_data_par`]
//! (column ranges) and [`super::sgd::apply_from_tapes`] (one product per tensor). faer computes
//! every column of a product the same way in any range of at least 4 columns, so none of these
//! results depends on the ranges, i.e. on the number of threads. The passes over a range of
//! columns are in [`passes`].
//!
//! Backward equations (with $g^l = \partial E/\partial x^l$, sums over the batch):
//! - FRN: $\partial a^l = \sum g^l$, $\partial V^l = g^l \phi(h^l)^\top$,
//!   $\partial h^l = (V^{l\top} g^l) \odot \phi'(h^l)$, $\partial b^l = \sum \partial h^l$,
//!   $\partial W^l = \partial h^l\, x^{l-1\top}$, $g^{l-1} = g^l + W^{l\top} \partial h^l$;
//! - RRN: $\partial b^l = \sum g^l$, $\partial W^l = g^l \phi(x^{l-1})^\top$,
//!   $g^{l-1} = g^l + (W^{l\top} g^l) \odot \phi'(x^{l-1})$;
//! - vanilla: as RRN without the $g^l$ term in $g^{l-1}$;
//! - readout $y = R x^L + r$: $\partial R = \partial y\, x^{L\top}$, $\partial r = \sum \partial y$,
//!   $g^L = R^\top \partial y$; embedding $x^0 = E u + e$: $\partial E = g^0 u^\top$,
//!   $\partial e = \sum g^0$.

use super::loss::{check_labels, xent_rows, BatchLoss, LossError};
use super::model::{ModelSpec, Params};
use super::scalar::{Kernel, Scalar};
use crate::architecture::Architecture;
use faer::Par;
use passes::{Raw, SharedMut};

mod passes;

/// What a [`Tape`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TapeMode {
    /// Forward only; keeps the current layer (and the output). Smallest footprint.
    Inference,
    /// Keeps every layer's forward quantities, as backpropagation needs; two gradient buffers
    /// used in turn.
    Train,
    /// Like `Train`, and also keeps $\partial E/\partial x^l$ of every layer.
    Full,
}

/// Error of a pass: a batch that does not fit the tape or a mode that lacks what is asked.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TapeError {
    #[error("batch = {batch} is out of range (valid: 1 <= batch <= {cap}, the tape's capacity)")]
    Batch { batch: usize, cap: usize },
    #[error("backward pass needs a tape in mode Train or Full, this one is {0:?}")]
    Mode(TapeMode),
    #[error("parameters do not match the tape's model (layout differs)")]
    Layout,
}

/// Workspace for batched passes of one model shape (see the module documentation).
pub struct Tape<T> {
    arch: Architecture,
    kernel: Kernel<T>,
    n: usize,
    depth: usize,
    in_dim: usize,
    embed: bool,
    out_dim: Option<usize>,
    mode: TapeMode,
    /// Whether $h^l$ is kept (FRN): always, except in a [`Tape::for_training`] tape whose
    /// activation derivative is computed from $\phi$ alone.
    keep_h: bool,
    cap: usize,
    batch: usize,
    par: Par,
    spec: ModelSpec,
    input: Vec<T>,
    xs: Vec<T>,
    hs: Vec<T>,
    phis: Vec<T>,
    out: Vec<T>,
    dout: Vec<T>,
    dxs: Vec<T>,
    dhs: Vec<T>,
    tmp: Vec<T>,
    /// Per-sample losses and hits of the last [`forward_loss`].
    losses: Vec<f64>,
    hits: Vec<bool>,
}

/// A zeroed buffer whose pages are touched now (not on the first pass, which is timed).
fn buffer<T: Scalar>(len: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    v.resize(len, T::zero());
    v
}

impl<T: Scalar> Tape<T> {
    /// A workspace for batches of up to `cap` samples. Matrix products run with faer
    /// parallelism `par` (`Par::Seq` when the caller parallelizes over batches or grid points).
    pub fn new(spec: &ModelSpec, cap: usize, mode: TapeMode, par: Par) -> Self {
        Self::build(spec, cap, mode, true, par)
    }

    /// The tape of the training loop: a `Full` tape (every layer's gradients can be kept, for
    /// steps cut into column ranges) that keeps $h^l$ only if the activation's derivative needs
    /// it ($\tanh' = 1 - \phi^2$ and $\mathrm{relu}' = [\phi > 0]$ do not), so the forward pass
    /// writes one buffer less. [`Tape::h`] panics on it when $h^l$ is not kept.
    pub fn for_training(spec: &ModelSpec, cap: usize, par: Par) -> Self {
        Self::build(spec, cap, TapeMode::Full, Kernel::<T>::new(spec.act).needs_h(), par)
    }

    fn build(spec: &ModelSpec, cap: usize, mode: TapeMode, keep_h: bool, par: Par) -> Self {
        let n = spec.width;
        let depth = spec.depth;
        let cap = cap.max(1);
        let nb = n * cap;
        let stored = mode != TapeMode::Inference;
        let x_slots = if stored { depth + 1 } else { 2 };
        let hp_slots = if stored { depth } else { 1.min(depth) };
        let dx_slots = match mode {
            TapeMode::Inference => 0,
            TapeMode::Train => 2,
            TapeMode::Full => depth + 1,
        };
        let full = spec.arch == Architecture::Full;
        let keep_h = keep_h || mode == TapeMode::Inference;
        Self {
            arch: spec.arch,
            kernel: Kernel::new(spec.act),
            n,
            depth,
            in_dim: spec.in_dim(),
            embed: spec.input_dim.is_some(),
            out_dim: spec.output_dim,
            mode,
            keep_h,
            cap,
            batch: cap,
            par,
            spec: spec.clone(),
            input: buffer(spec.input_dim.map_or(0, |d| d * cap)),
            xs: buffer(x_slots * nb),
            hs: buffer(if full && keep_h { hp_slots * nb } else { 0 }),
            phis: buffer(hp_slots * nb),
            out: buffer(spec.output_dim.map_or(0, |k| k * cap)),
            dout: buffer(if stored { spec.output_dim.map_or(0, |k| k * cap) } else { 0 }),
            dxs: buffer(dx_slots * nb),
            dhs: buffer(if full && mode == TapeMode::Full { depth * nb } else { 0 }),
            tmp: buffer(if stored { nb } else { 0 }),
            losses: vec![0.0; cap],
            hits: vec![false; cap],
        }
    }

    pub fn mode(&self) -> TapeMode {
        self.mode
    }

    /// Maximum batch size.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Current batch size.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Width $N$.
    pub fn width(&self) -> usize {
        self.n
    }

    /// Depth $L$.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The model description the tape was built for.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// faer parallelism of the products.
    pub fn set_par(&mut self, par: Par) {
        self.par = par;
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

    /// Sets the batch size and returns the input buffer to fill: `batch` samples of `in_dim`
    /// values (pixels $u$ with an embedding; $x^0$ itself for a trunk-only model).
    pub fn input_mut(&mut self, batch: usize) -> Result<&mut [T], TapeError> {
        if batch == 0 || batch > self.cap {
            return Err(TapeError::Batch { batch, cap: self.cap });
        }
        self.batch = batch;
        let len = self.in_dim * batch;
        if self.embed {
            Ok(&mut self.input[..len])
        } else {
            Ok(&mut self.xs[..len])
        }
    }

    /// The current input (`batch x in_dim`).
    pub fn input(&self) -> &[T] {
        let len = self.in_dim * self.batch;
        if self.embed {
            &self.input[..len]
        } else {
            &self.xs[..len]
        }
    }

    /// $x^l$ (`batch x N`), $0 \le l \le L$. In `Inference` mode only $l = L$ (and $l = L - 1$)
    /// are still there.
    ///
    /// # Panics
    /// If `l > L` or the layer was not kept.
    pub fn x(&self, l: usize) -> &[T] {
        assert!(l <= self.depth, "layer {l} of a depth-{} network", self.depth);
        assert!(self.mode != TapeMode::Inference || l + 2 > self.depth, "an Inference tape keeps only the last layers");
        let nb = self.n * self.cap;
        let s = self.x_slot(l);
        &self.xs[s * nb..s * nb + self.n * self.batch]
    }

    /// $h^l = W^l x^{l-1} + b^l$ (FRN only), $1 \le l \le L$, `batch x N`.
    ///
    /// # Panics
    /// If the model is not an FRN, `l` is out of range, or the tape is in `Inference` mode.
    pub fn h(&self, l: usize) -> &[T] {
        assert!(self.arch == Architecture::Full, "h^l exists only in full residual networks");
        assert!(l >= 1 && l <= self.depth, "layer {l} out of 1..={}", self.depth);
        assert!(self.mode != TapeMode::Inference, "an Inference tape does not keep h^l");
        assert!(self.keep_h, "this training tape does not keep h^l (its activation does not need it)");
        let nb = self.n * self.cap;
        let s = self.hp_slot(l);
        &self.hs[s * nb..s * nb + self.n * self.batch]
    }

    /// The activations of block $l$: $\phi(h^l)$ (FRN) or $\phi(x^{l-1})$, $1 \le l \le L$.
    ///
    /// # Panics
    /// If `l` is out of range or the tape is in `Inference` mode.
    pub fn phi(&self, l: usize) -> &[T] {
        assert!(l >= 1 && l <= self.depth, "layer {l} out of 1..={}", self.depth);
        assert!(self.mode != TapeMode::Inference, "an Inference tape does not keep phi^l");
        let nb = self.n * self.cap;
        let s = self.hp_slot(l);
        &self.phis[s * nb..s * nb + self.n * self.batch]
    }

    /// The model's output after [`forward`]: the logits (`batch x K`) with a readout, $x^L$ without.
    pub fn output(&self) -> &[T] {
        match self.out_dim {
            Some(k) => &self.out[..k * self.batch],
            None => self.x(self.depth),
        }
    }

    /// Where to write the cotangent $\partial E/\partial(\text{output})$ before [`backward`]
    /// (`batch x K` with a readout, `batch x N` = $\partial E/\partial x^L$ without).
    pub fn output_grad_mut(&mut self) -> Result<&mut [T], TapeError> {
        if self.mode == TapeMode::Inference {
            return Err(TapeError::Mode(self.mode));
        }
        let b = self.batch;
        match self.out_dim {
            Some(k) => Ok(&mut self.dout[..k * b]),
            None => {
                let nb = self.n * self.cap;
                let s = self.dx_slot(self.depth);
                Ok(&mut self.dxs[s * nb..s * nb + self.n * b])
            }
        }
    }

    /// Where to write $\partial E/\partial x^L$ before [`backward_from_top`] (`batch x N`).
    pub fn top_grad_mut(&mut self) -> Result<&mut [T], TapeError> {
        if self.mode == TapeMode::Inference {
            return Err(TapeError::Mode(self.mode));
        }
        let nb = self.n * self.cap;
        let s = self.dx_slot(self.depth);
        let len = self.n * self.batch;
        Ok(&mut self.dxs[s * nb..s * nb + len])
    }

    /// $\partial E/\partial x^l$ after [`backward`], $0 \le l \le L$ (`Full` mode; in `Train` mode
    /// only $l = 0$ is kept at the end).
    ///
    /// # Panics
    /// If the layer was not kept.
    pub fn dx(&self, l: usize) -> &[T] {
        assert!(l <= self.depth, "layer {l} of a depth-{} network", self.depth);
        assert!(
            self.mode == TapeMode::Full || (self.mode == TapeMode::Train && l == 0),
            "dE/dx^l of every layer is kept only by a Full tape"
        );
        let nb = self.n * self.cap;
        let s = self.dx_slot(l);
        &self.dxs[s * nb..s * nb + self.n * self.batch]
    }

    /// $\partial E/\partial h^l$ after [`backward`] (FRN, `Full` mode), $1 \le l \le L$.
    ///
    /// # Panics
    /// If the model is not an FRN, `l` is out of range, or the tape is not in `Full` mode.
    pub fn dh(&self, l: usize) -> &[T] {
        assert!(self.arch == Architecture::Full, "h^l exists only in full residual networks");
        assert!(l >= 1 && l <= self.depth, "layer {l} out of 1..={}", self.depth);
        assert!(self.mode == TapeMode::Full, "dE/dh^l is kept only by a Full tape");
        let nb = self.n * self.cap;
        &self.dhs[(l - 1) * nb..(l - 1) * nb + self.n * self.batch]
    }

    /// The cotangent on the output (`batch x K`) as set by the loss or the caller (readout
    /// models; for a trunk-only model this is [`Tape::dx`]`(L)` before the backward pass).
    pub fn output_grad(&self) -> &[T] {
        let k = self.out_dim.unwrap_or(0);
        &self.dout[..k * self.batch]
    }

    /// Pieces needed by the loss: (output logits, output gradient buffer, batch).
    pub(crate) fn out_and_grad(&mut self) -> (&[T], &mut [T], usize) {
        let b = self.batch;
        let k = self.out_dim.unwrap_or(0);
        (&self.out[..k * b], &mut self.dout[..k * b], b)
    }
}

/// Backward pass and plain SGD step ($\theta \leftarrow \theta - \eta\,\partial_\theta E$) in one
/// sweep over the layers, from the cotangent set by the loss: each tensor is updated right after
/// the data path has used it, while its operands are still in cache, with the arithmetic of
/// [`backward_data`] followed by [`super::sgd::apply_from_tapes`] (the same result, bit for bit),
/// and only two gradient slots. The tape's gradients are not kept (in a `Full` tape,
/// [`Tape::dx`] and [`Tape::dh`] are stale afterwards).
pub fn backward_sgd<T: Scalar>(params: &mut Params<T>, tape: &mut Tape<T>, lr: f64) -> Result<(), TapeError> {
    if tape.mode == TapeMode::Inference {
        return Err(TapeError::Mode(tape.mode));
    }
    tape.check_layout(params)?;
    let b = tape.batch;
    let raw = tape.raw();
    // SAFETY: one pass over all columns while `tape` is mutably borrowed; the layout matches.
    unsafe { raw.backward_sgd(params, lr, b) };
    Ok(())
}

/// Smallest column range a batch is cut into for parallel passes: narrower products lose
/// efficiency, and faer computes every column of a product the same way, bit for bit, only for
/// ranges of at least 4 columns (below that it switches to other kernels).
pub const MIN_RANGE: usize = 16;

/// How many column ranges a batch of `batch` samples is cut into for `threads` threads: at most
/// one per thread, each at least [`MIN_RANGE`] wide (1 for small batches).
pub fn ranges(batch: usize, threads: usize) -> usize {
    threads.min(batch / MIN_RANGE).max(1)
}

/// Columns `c0..c1` of range `i` of `nr` over `batch` columns (widths differ by at most one).
fn range_bounds(batch: usize, nr: usize, i: usize) -> (usize, usize) {
    (batch * i / nr, batch * (i + 1) / nr)
}

/// Runs `f(c0, c1)` for the `nr` ranges of `batch` columns, in parallel on the current rayon pool
/// when `nr > 1` (by recursive halving: no allocation).
fn for_ranges(batch: usize, nr: usize, f: &(dyn Fn(usize, usize) + Sync)) {
    fn go(batch: usize, nr: usize, lo: usize, hi: usize, f: &(dyn Fn(usize, usize) + Sync)) {
        if hi - lo == 1 {
            let (c0, c1) = range_bounds(batch, nr, lo);
            f(c0, c1);
        } else {
            let mid = (lo + hi) / 2;
            rayon::join(|| go(batch, nr, lo, mid, f), || go(batch, nr, mid, hi, f));
        }
    }
    if nr <= 1 {
        f(0, batch);
    } else {
        go(batch, nr, 0, nr, f);
    }
}

impl<T: Scalar> Tape<T> {
    fn raw(&mut self) -> Raw<T> {
        Raw {
            arch: self.arch,
            kernel: self.kernel,
            n: self.n,
            depth: self.depth,
            in_dim: self.in_dim,
            embed: self.embed,
            out_dim: self.out_dim,
            mode: self.mode,
            keep_h: self.keep_h,
            cap: self.cap,
            par: self.par,
            input: self.input.as_mut_ptr(),
            xs: self.xs.as_mut_ptr(),
            hs: self.hs.as_mut_ptr(),
            phis: self.phis.as_mut_ptr(),
            out: self.out.as_mut_ptr(),
            dout: self.dout.as_mut_ptr(),
            dxs: self.dxs.as_mut_ptr(),
            dhs: self.dhs.as_mut_ptr(),
            tmp: self.tmp.as_mut_ptr(),
        }
    }

    fn check_layout(&self, params: &Params<T>) -> Result<(), TapeError> {
        let layout = params.layout();
        if layout.width != self.n
            || layout.depth != self.depth
            || layout.arch != self.arch
            || layout.output_dim != self.out_dim
            || layout.input_dim.is_some() != self.embed
            || layout.input_dim.is_some_and(|d| d != self.in_dim)
        {
            return Err(TapeError::Layout);
        }
        Ok(())
    }
}

/// Forward pass on the batch in [`Tape::input_mut`]: fills $x^l$, $h^l$, $\phi$ and the output.
pub fn forward<T: Scalar>(params: &Params<T>, tape: &mut Tape<T>) -> Result<(), TapeError> {
    tape.check_layout(params)?;
    let b = tape.batch;
    let raw = tape.raw();
    // SAFETY: one pass over all columns while `tape` is mutably borrowed.
    unsafe { raw.forward(params, 0, b) };
    Ok(())
}

/// Forward pass and loss of a batch of `batch` samples in `threads` column ranges ([`ranges`])
/// run in parallel on the current rayon pool: for each range, `fill(c0, c1, input)` writes the
/// inputs of samples `c0..c1` (`(c1 - c0) x in_dim` values), then the forward pass and the
/// softmax cross-entropy against `labels` run on it (with `grad_scale`, the cotangent is set as
/// by [`softmax_xent`](super::loss::softmax_xent)). Every column is computed the same way in any
/// range, and the per-sample losses are summed in sample order, so the result does not depend
/// on `threads`.
pub fn forward_loss<T: Scalar>(
    params: &Params<T>,
    tape: &mut Tape<T>,
    batch: usize,
    labels: &[u8],
    grad_scale: Option<f64>,
    threads: usize,
    fill: &(dyn Fn(usize, usize, &mut [T]) + Sync),
) -> Result<BatchLoss, LossError> {
    forward_loss_impl(params, tape, batch, labels, grad_scale, threads, fill, false)
}

/// [`forward_loss`] followed, in each column range without waiting for the others, by the
/// backward data path ([`backward_data_par`]; a `Full` tape, `grad_scale` set). The data path
/// changes no parameter, so the caller can still decide from the loss whether to update (e.g.
/// with [`super::sgd::apply_from_tapes`]); one synchronization of the threads less per step.
pub fn forward_loss_data<T: Scalar>(
    params: &Params<T>,
    tape: &mut Tape<T>,
    batch: usize,
    labels: &[u8],
    grad_scale: f64,
    threads: usize,
    fill: &(dyn Fn(usize, usize, &mut [T]) + Sync),
) -> Result<BatchLoss, LossError> {
    if tape.mode != TapeMode::Full {
        return Err(TapeError::Mode(tape.mode).into());
    }
    forward_loss_impl(params, tape, batch, labels, Some(grad_scale), threads, fill, true)
}

#[allow(clippy::too_many_arguments)]
fn forward_loss_impl<T: Scalar>(
    params: &Params<T>,
    tape: &mut Tape<T>,
    batch: usize,
    labels: &[u8],
    grad_scale: Option<f64>,
    threads: usize,
    fill: &(dyn Fn(usize, usize, &mut [T]) + Sync),
    data_path: bool,
) -> Result<BatchLoss, LossError> {
    tape.check_layout(params)?;
    if batch == 0 || batch > tape.cap {
        return Err(TapeError::Batch { batch, cap: tape.cap }.into());
    }
    let k = tape.out_dim.ok_or(TapeError::Layout)?;
    if labels.len() != batch {
        return Err(LossError::Count { labels: labels.len(), batch });
    }
    check_labels(labels, k)?;
    if grad_scale.is_some() && tape.mode == TapeMode::Inference {
        return Err(TapeError::Mode(tape.mode).into());
    }
    tape.batch = batch;
    let raw = tape.raw();
    let (losses, hits) = (SharedMut(tape.losses.as_mut_ptr()), SharedMut(tape.hits.as_mut_ptr()));
    let nr = ranges(batch, threads);
    for_ranges(batch, nr, &|c0, c1| {
        // SAFETY: the ranges of `for_ranges` are disjoint and `tape` is mutably borrowed
        // throughout; the input buffer has `cap` columns of `in_dim` values.
        unsafe {
            let input =
                if raw.embed { raw.cols(raw.input, raw.in_dim, 0, c0, c1) } else { raw.cols(raw.xs, raw.n, 0, c0, c1) };
            fill(c0, c1, input);
            raw.forward(params, c0, c1);
            let logits: &[T] = raw.cols(raw.out, k, 0, c0, c1);
            let dout = grad_scale.map(|_| raw.cols(raw.dout, k, 0, c0, c1));
            let (ls, hs) = (losses.slice(c0, c1), hits.slice(c0, c1));
            let mut i = 0;
            xent_rows(logits, dout, &labels[c0..c1], k, grad_scale, &mut |l, ok| {
                ls[i] = l;
                hs[i] = ok;
                i += 1;
            });
            if data_path {
                raw.backward(params, None, true, c0, c1);
            }
        }
    });
    let mut out = BatchLoss { count: batch, ..Default::default() };
    for (&l, &ok) in tape.losses[..batch].iter().zip(&tape.hits[..batch]) {
        out.loss_sum += l;
        out.correct += ok as usize;
    }
    Ok(out)
}

/// Backward pass: propagates the cotangent in [`Tape::output_grad_mut`] (set by the loss, or by
/// the caller) through the network of the last [`forward`], writing every parameter gradient into
/// `grads` (overwritten, not accumulated) and $\partial E/\partial x^l$ into the tape.
pub fn backward<T: Scalar>(params: &Params<T>, tape: &mut Tape<T>, grads: &mut Params<T>) -> Result<(), TapeError> {
    backward_impl(params, tape, Some(grads), true, 1)
}

/// Backward pass from a cotangent at the top of the trunk, $\partial E/\partial x^L$, written by
/// the caller into [`Tape::top_grad_mut`]: like [`backward`] but the readout (if any) is skipped
/// and its gradient set to 0. For a trunk-only model this is the same as [`backward`].
pub fn backward_from_top<T: Scalar>(
    params: &Params<T>,
    tape: &mut Tape<T>,
    grads: &mut Params<T>,
) -> Result<(), TapeError> {
    backward_impl(params, tape, Some(grads), false, 1)
}

fn backward_impl<T: Scalar>(
    params: &Params<T>,
    tape: &mut Tape<T>,
    grads: Option<&mut Params<T>>,
    from_output: bool,
    threads: usize,
) -> Result<(), TapeError> {
    if tape.mode == TapeMode::Inference {
        return Err(TapeError::Mode(tape.mode));
    }
    tape.check_layout(params)?;
    if grads.as_ref().is_some_and(|g| g.layout() != params.layout()) {
        return Err(TapeError::Layout);
    }
    let b = tape.batch;
    let raw = tape.raw();
    match grads {
        // SAFETY: one pass over all columns while `tape` is mutably borrowed.
        Some(g) => unsafe { raw.backward(params, Some(g), from_output, 0, b) },
        None => for_ranges(b, ranges(b, threads), &|c0, c1| {
            // SAFETY: disjoint ranges while `tape` is mutably borrowed.
            unsafe { raw.backward(params, None, from_output, c0, c1) }
        }),
    }
    Ok(())
}

/// Backward pass through the data path only: fills $\partial E/\partial x^l$ (and
/// $\partial E/\partial h^l$ for FRN) of every layer in a `Full` tape, without the parameter
/// gradients; [`super::sgd::apply_from_tapes`] then forms those and updates in one pass.
pub fn backward_data<T: Scalar>(params: &Params<T>, tape: &mut Tape<T>) -> Result<(), TapeError> {
    backward_data_par(params, tape, 1)
}

/// [`backward_data`] in `threads` column ranges ([`ranges`]) run in parallel on the current
/// rayon pool (the data path of each sample is independent of the others; the result does not
/// depend on `threads`).
pub fn backward_data_par<T: Scalar>(params: &Params<T>, tape: &mut Tape<T>, threads: usize) -> Result<(), TapeError> {
    if tape.mode != TapeMode::Full {
        return Err(TapeError::Mode(tape.mode));
    }
    backward_impl(params, tape, None, true, threads)
}
