//! Batched forward and backward passes over a preallocated workspace ([`Tape`]).
//!
//! A [`Tape`] is built once per (model shape, maximum batch size, mode) and reused for every
//! batch: the passes allocate nothing. It stores the per-layer quantities the simulations need and
//! exposes them through accessors (all buffers are sample-major, `n` features per sample, see
//! [`super::matmul`]):
//! - [`Tape::x`]`(l)` = $x^l$ for $l = 0..L$, [`Tape::h`]`(l)` = $h^l$ (FRN, $l = 1..L$),
//!   [`Tape::phi`]`(l)` = $\phi(h^l)$ (FRN) or $\phi(x^{l-1})$ (vanilla, RRN);
//! - after [`backward`], [`Tape::dx`]`(l)` = $\partial E/\partial x^l$ for $l = 0..L$
//!   ([`TapeMode::Full`]) and the parameter gradients in a [`Params`] of the model's layout.
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

use super::matmul;
use super::model::{ModelSpec, Params};
use super::scalar::{self, Kernel, Scalar};
use crate::architecture::Architecture;
use faer::Par;

/// What a [`Tape`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TapeMode {
    /// Forward only; keeps the current layer (and the output). Smallest footprint.
    Inference,
    /// Keeps every layer's forward quantities, as backpropagation needs; one gradient buffer.
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
}

/// A zeroed buffer whose pages are touched now (not on the first pass, which is timed).
fn buffer<T: Scalar>(len: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    v.resize(len, T::zero());
    v
}

fn split2<T>(buf: &mut [T], size: usize, src: usize, dst: usize) -> (&[T], &mut [T]) {
    debug_assert_ne!(src, dst);
    if src < dst {
        let (a, b) = buf.split_at_mut(dst * size);
        (&a[src * size..(src + 1) * size], &mut b[..size])
    } else {
        let (a, b) = buf.split_at_mut(src * size);
        (&b[..size], &mut a[dst * size..(dst + 1) * size])
    }
}

impl<T: Scalar> Tape<T> {
    /// A workspace for batches of up to `cap` samples. Matrix products run with faer
    /// parallelism `par` (`Par::Seq` when the caller parallelizes over batches or grid points).
    pub fn new(spec: &ModelSpec, cap: usize, mode: TapeMode, par: Par) -> Self {
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
        Self {
            arch: spec.arch,
            kernel: Kernel::new(spec.act),
            n,
            depth,
            in_dim: spec.in_dim(),
            embed: spec.input_dim.is_some(),
            out_dim: spec.output_dim,
            mode,
            cap,
            batch: cap,
            par,
            spec: spec.clone(),
            input: buffer(spec.input_dim.map_or(0, |d| d * cap)),
            xs: buffer(x_slots * nb),
            hs: buffer(if full { hp_slots * nb } else { 0 }),
            phis: buffer(hp_slots * nb),
            out: buffer(spec.output_dim.map_or(0, |k| k * cap)),
            dout: buffer(if stored { spec.output_dim.map_or(0, |k| k * cap) } else { 0 }),
            dxs: buffer(dx_slots * nb),
            dhs: buffer(if full && mode == TapeMode::Full { depth * nb } else { 0 }),
            tmp: buffer(if stored { nb } else { 0 }),
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
        assert!(
            self.mode != TapeMode::Inference || l + 2 > self.depth,
            "an Inference tape keeps only the last layers"
        );
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

/// Forward pass on the batch in [`Tape::input_mut`]: fills $x^l$, $h^l$, $\phi$ and the output.
pub fn forward<T: Scalar>(params: &Params<T>, tape: &mut Tape<T>) -> Result<(), TapeError> {
    let layout = params.layout();
    if layout.width != tape.n || layout.depth != tape.depth || layout.arch != tape.arch || layout.output_dim != tape.out_dim || layout.input_dim.is_some() != tape.embed {
        return Err(TapeError::Layout);
    }
    let n = tape.n;
    let b = tape.batch;
    let nb_cap = n * tape.cap;
    let nb = n * b;
    let par = tape.par;
    let k = tape.kernel;
    let mode = tape.mode;
    let x_slot = |l: usize| if mode == TapeMode::Inference { l % 2 } else { l };
    let hp_slot = |l: usize| if mode == TapeMode::Inference { 0 } else { l - 1 };

    if let (Some(ew), Some(eb), Some(d)) = (params.embed_w(), params.embed_b(), layout.input_dim) {
        let x0 = &mut tape.xs[..nb];
        scalar::add_bias_columns(n, None, eb, x0);
        matmul::forward(x0, true, ew, &tape.input[..d * b], d, n, b, par);
    }
    for l in 1..=tape.depth {
        let blk = params.block(l - 1);
        let (xp, xl) = split2(&mut tape.xs, nb_cap, x_slot(l - 1), x_slot(l));
        let (xp, xl) = (&xp[..nb], &mut xl[..nb]);
        let s = hp_slot(l);
        let phi = &mut tape.phis[s * nb_cap..s * nb_cap + nb];
        match tape.arch {
            Architecture::Full => {
                let h = &mut tape.hs[s * nb_cap..s * nb_cap + nb];
                matmul::forward(h, false, blk.w, xp, n, n, b, par);
                scalar::bias_act_forward(k, n, Some(blk.b), h, phi);
                scalar::add_bias_columns(n, Some(xp), blk.a, xl);
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
    if let (Some(rw), Some(rb), Some(kk)) = (params.readout_w(), params.readout_b(), tape.out_dim) {
        let s = x_slot(tape.depth);
        let xl = &tape.xs[s * nb_cap..s * nb_cap + nb];
        let out = &mut tape.out[..kk * b];
        scalar::add_bias_columns(kk, None, rb, out);
        matmul::forward(out, true, rw, xl, n, kk, b, par);
    }
    Ok(())
}

/// Backward pass: propagates the cotangent in [`Tape::output_grad_mut`] (set by the loss, or by
/// the caller) through the network of the last [`forward`], writing every parameter gradient into
/// `grads` (overwritten, not accumulated) and $\partial E/\partial x^l$ into the tape.
pub fn backward<T: Scalar>(params: &Params<T>, tape: &mut Tape<T>, grads: &mut Params<T>) -> Result<(), TapeError> {
    backward_impl(params, tape, Some(grads), true)
}

/// Backward pass from a cotangent at the top of the trunk, $\partial E/\partial x^L$, written by
/// the caller into [`Tape::top_grad_mut`]: like [`backward`] but the readout (if any) is skipped
/// and its gradient set to 0. For a trunk-only model this is the same as [`backward`].
pub fn backward_from_top<T: Scalar>(params: &Params<T>, tape: &mut Tape<T>, grads: &mut Params<T>) -> Result<(), TapeError> {
    backward_impl(params, tape, Some(grads), false)
}

fn backward_impl<T: Scalar>(
    params: &Params<T>,
    tape: &mut Tape<T>,
    mut grads: Option<&mut Params<T>>,
    from_output: bool,
) -> Result<(), TapeError> {
    if tape.mode == TapeMode::Inference {
        return Err(TapeError::Mode(tape.mode));
    }
    if grads.as_ref().is_some_and(|g| g.layout() != params.layout()) {
        return Err(TapeError::Layout);
    }
    let n = tape.n;
    let b = tape.batch;
    let nb_cap = n * tape.cap;
    let nb = n * b;
    let par = tape.par;
    let k = tape.kernel;
    let full_mode = tape.mode == TapeMode::Full;
    let dx_slot = |l: usize| if full_mode { l } else { l % 2 };
    let depth = tape.depth;

    if !from_output {
        if let Some((gw, gb)) = grads.as_mut().and_then(|g| g.readout_mut()) {
            gw.fill(T::zero());
            gb.fill(T::zero());
        }
    } else if let (Some(rw), Some(kk)) = (params.readout_w(), tape.out_dim) {
        let xl = &tape.xs[depth * nb_cap..depth * nb_cap + nb];
        let dout = &tape.dout[..kk * b];
        if let Some((gw, gb)) = grads.as_mut().and_then(|g| g.readout_mut()) {
            matmul::backward_weight(gw, dout, xl, n, kk, b, par);
            scalar::sum_columns(kk, dout, gb);
        }
        let s = dx_slot(depth);
        let g = &mut tape.dxs[s * nb_cap..s * nb_cap + nb];
        matmul::backward_input(g, false, rw, dout, n, kk, b, par);
    }
    for l in (1..=depth).rev() {
        let blk = params.block(l - 1);
        let mut gblk = grads.as_mut().map(|g| g.block_mut(l - 1));
        let xp = &tape.xs[(l - 1) * nb_cap..(l - 1) * nb_cap + nb];
        let phi = &tape.phis[(l - 1) * nb_cap..(l - 1) * nb_cap + nb];
        // g = dE/dx^l (read), gp = dE/dx^{l-1} (written): distinct slots in both modes.
        let (g, gp) = split2(&mut tape.dxs, nb_cap, dx_slot(l), dx_slot(l - 1));
        let (g, gp) = (&g[..nb], &mut gp[..nb]);
        match tape.arch {
            Architecture::Full => {
                let h = &tape.hs[(l - 1) * nb_cap..(l - 1) * nb_cap + nb];
                let dh = if full_mode {
                    &mut tape.dhs[(l - 1) * nb_cap..(l - 1) * nb_cap + nb]
                } else {
                    &mut tape.tmp[..nb]
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
                if tape.arch == Architecture::Reduced {
                    scalar::add_assign(gp, g);
                }
            }
        }
    }
    if let (Some(d), Some(grads)) = (params.layout().input_dim, grads) {
        let g0 = &tape.dxs[..nb];
        let u = &tape.input[..d * b];
        let (gw, gb) = grads.embed_mut().expect("same layout");
        matmul::backward_weight(gw, g0, u, d, n, b, par);
        scalar::sum_columns(n, g0, gb);
    }
    Ok(())
}

/// Backward pass through the data path only: fills $\partial E/\partial x^l$ (and
/// $\partial E/\partial h^l$ for FRN) of every layer in a `Full` tape, without the parameter
/// gradients; [`super::sgd::apply_from_tapes`] then forms those and updates in one pass.
pub fn backward_data<T: Scalar>(params: &Params<T>, tape: &mut Tape<T>) -> Result<(), TapeError> {
    if tape.mode != TapeMode::Full {
        return Err(TapeError::Mode(tape.mode));
    }
    backward_impl(params, tape, None, true)
}
