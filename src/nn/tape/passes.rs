//! The passes over a [`Tape`]: forward (with the loss), backward (data and weight gradients),
//! the fused backward + SGD step, and the split of a batch into per-thread column ranges.

use super::*;

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
        }
    });
    let mut out = BatchLoss { count: batch, ..Default::default() };
    for (&l, &ok) in tape.losses[..batch].iter().zip(&tape.hits[..batch]) {
        out.loss_sum += l;
        out.correct += ok as usize;
    }
    Ok(out)
}

/// A raw pointer to per-sample values written by disjoint column ranges.
#[derive(Clone, Copy)]
struct SharedMut<U>(*mut U);
// SAFETY: used only by `forward_loss`, whose ranges write disjoint elements.
unsafe impl<U: Send> Send for SharedMut<U> {}
// SAFETY: as for `Send`.
unsafe impl<U: Send> Sync for SharedMut<U> {}

impl<U> SharedMut<U> {
    /// # Safety
    /// `c1` is within the allocation and no other live reference overlaps `c0..c1`.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice<'a>(&self, c0: usize, c1: usize) -> &'a mut [U] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(c0), c1 - c0) }
    }
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
