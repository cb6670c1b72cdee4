//! Softmax cross-entropy on the logits of a [`Tape`].
//!
//! For logits $y \in \mathbb{R}^K$ and label $c$: $\ell = \log\sum_k e^{y_k} - y_c$ (computed in
//! `f64` with the max subtracted), $\partial\ell/\partial y_k = \operatorname{softmax}(y)_k -
//! [k = c]$.

use super::scalar::Scalar;
use super::tape::{Tape, TapeError};

/// Loss sum and number of correct predictions (argmax, first maximum on ties) of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BatchLoss {
    /// $\sum$ over the batch of the per-sample loss (NaN/inf if the logits are not finite).
    pub loss_sum: f64,
    pub correct: usize,
    pub count: usize,
}

/// Error of the loss: wrong number of labels or a label outside the logits' range.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LossError {
    #[error("{labels} labels for a batch of {batch}")]
    Count { labels: usize, batch: usize },
    #[error("label {label} is out of range (valid: 0..{classes})")]
    Label { label: u8, classes: usize },
    #[error(transparent)]
    Tape(#[from] TapeError),
}

/// Loss of one sample; `e` is scratch of the logits' length. With `scale`, `e` returns
/// `scale * (softmax - onehot)`.
fn per_sample(logits: &[f64], label: usize, e: &mut [f64], scale: Option<f64>) -> (f64, bool) {
    let mut max = f64::NEG_INFINITY;
    let mut arg = 0;
    for (i, &z) in logits.iter().enumerate() {
        if z > max {
            max = z;
            arg = i;
        }
    }
    let mut sum = 0.0;
    for (ei, &z) in e.iter_mut().zip(logits) {
        *ei = (z - max).exp();
        sum += *ei;
    }
    let loss = max + sum.ln() - logits[label];
    if let Some(scale) = scale {
        for (i, ei) in e.iter_mut().enumerate() {
            *ei = scale * (*ei / sum - if i == label { 1.0 } else { 0.0 });
        }
    }
    (loss, arg == label && logits.iter().all(|z| z.is_finite()))
}

/// Loss of the batch in `tape` (after [`super::tape::forward`]) and, if `grad_scale` is given,
/// writes `grad_scale` times $\partial\ell/\partial y$ of each sample into the tape's output
/// gradient (use `1 / total batch size` for the mean loss).
pub fn softmax_xent<T: Scalar>(
    tape: &mut Tape<T>,
    labels: &[u8],
    grad_scale: Option<f64>,
) -> Result<BatchLoss, LossError> {
    let k = tape.spec().out_dim();
    let batch = tape.batch();
    if labels.len() != batch {
        return Err(LossError::Count { labels: labels.len(), batch });
    }
    check_labels(labels, k)?;
    if grad_scale.is_some() && tape.spec().output_dim.is_none() {
        return Err(LossError::Tape(TapeError::Layout));
    }
    let mut out = BatchLoss { count: batch, ..Default::default() };
    let mut sink = |l: f64, ok: bool| {
        out.loss_sum += l;
        out.correct += ok as usize;
    };
    match grad_scale {
        Some(scale) => {
            tape.output_grad_mut()?;
            let (logits, dout, _) = tape.out_and_grad();
            xent_rows(logits, Some(dout), labels, k, Some(scale), &mut sink);
        }
        None => xent_rows(tape.output(), None, labels, k, None, &mut sink),
    }
    Ok(out)
}

/// Checks that every label is a class index below `k`.
pub(crate) fn check_labels(labels: &[u8], k: usize) -> Result<(), LossError> {
    match labels.iter().find(|&&c| c as usize >= k) {
        Some(&bad) => Err(LossError::Label { label: bad, classes: k }),
        None => Ok(()),
    }
}

/// The loss of each sample of `logits` (`labels.len()` samples of `k` logits, labels already
/// checked), in sample order, to `sink(loss, correct)`; with `scale`, writes `scale` times
/// $\partial\ell/\partial y$ of each sample into `dout`. Allocates nothing for $k \le 32$.
pub(crate) fn xent_rows<T: Scalar>(
    logits: &[T],
    mut dout: Option<&mut [T]>,
    labels: &[u8],
    k: usize,
    scale: Option<f64>,
    sink: &mut dyn FnMut(f64, bool),
) {
    // Scratch for one sample's logits and gradient: on the stack for up to 32 classes.
    let (mut zs_stack, mut gs_stack) = ([0.0f64; 32], [0.0f64; 32]);
    let (mut z_heap, mut g_heap) = (Vec::new(), Vec::new());
    let (z, g): (&mut [f64], &mut [f64]) = if k <= 32 {
        (&mut zs_stack[..k], &mut gs_stack[..k])
    } else {
        z_heap.resize(k, 0.0);
        g_heap.resize(k, 0.0);
        (&mut z_heap, &mut g_heap)
    };
    for (i, (zs, &c)) in logits.chunks_exact(k).zip(labels).enumerate() {
        for (a, &b) in z.iter_mut().zip(zs) {
            *a = b.f64();
        }
        let (l, ok) = per_sample(z, c as usize, g, scale);
        if let Some(d) = dout.as_deref_mut() {
            for (a, &b) in d[i * k..(i + 1) * k].iter_mut().zip(g.iter()) {
                *a = T::of(b);
            }
        }
        sink(l, ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::architecture::Architecture;
    use crate::nn::{ModelSpec, TapeMode};
    use faer::Par;

    #[test]
    fn loss_matches_the_naive_formula_and_survives_large_logits() {
        let mut e = [0.0; 3];
        let (l, ok) = per_sample(&[1.0, 2.0, 3.0], 0, &mut e, Some(1.0));
        // Naive formula: ln(e^1 + e^2 + e^3) - 1.
        let naive = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln() - 1.0;
        assert!((l - naive).abs() < 1e-14);
        assert!(!ok);
        // Gradient: softmax - onehot.
        let s: f64 = [1f64, 2.0, 3.0].iter().map(|x| x.exp()).sum();
        assert!((e[0] - (1f64.exp() / s - 1.0)).abs() < 1e-15);
        assert!((e[2] - 3f64.exp() / s).abs() < 1e-15);
        // Logits of 1000 (the naive formula overflows): loss 0 for the winning label, 1000 else.
        let (l0, ok0) = per_sample(&[1000.0, 0.0, 0.0], 0, &mut e, None);
        let (l1, _) = per_sample(&[1000.0, 0.0, 0.0], 1, &mut e, None);
        assert!(l0.abs() < 1e-300 && ok0);
        assert!((l1 - 1000.0).abs() < 1e-12);
        // Non-finite logits: non-finite loss, not counted correct.
        let (ln, okn) = per_sample(&[f64::NAN, 0.0, 0.0], 0, &mut e, None);
        assert!(ln.is_nan() && !okn);
    }

    #[test]
    fn bad_labels_are_errors() {
        let spec = ModelSpec::mnist(Architecture::Full, Activation::Tanh, 4, 1, 1.0, 1.0, 0.0, 0.0);
        let mut t = Tape::<f64>::new(&spec, 2, TapeMode::Train, Par::Seq);
        t.input_mut(2).unwrap().fill(0.1);
        let p = crate::nn::init::<f64>(&spec, 0).unwrap();
        crate::nn::forward(&p, &mut t).unwrap();
        assert_eq!(softmax_xent(&mut t, &[1], None).unwrap_err(), LossError::Count { labels: 1, batch: 2 });
        assert_eq!(softmax_xent(&mut t, &[1, 10], None).unwrap_err(), LossError::Label { label: 10, classes: 10 });
        let r = softmax_xent(&mut t, &[1, 2], Some(0.5)).unwrap();
        assert_eq!(r.count, 2);
        assert!(r.loss_sum.is_finite());
    }
}
