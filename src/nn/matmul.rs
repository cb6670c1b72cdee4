//! The matrix products of a dense layer over slices, with no allocation: on the AVX-512 kernel
//! ([`microkernel`], the same bits as faer) for `f32` products it takes, through faer otherwise.
//!
//! Storage conventions of the whole network core:
//! - a batch of activations is `batch` samples of `n` features each, sample after sample
//!   (sample-major, i.e. "row-major batch x n"); to faer it is the column-major `n x batch`
//!   matrix $X$ whose column $j$ is sample $j$;
//! - a weight matrix $W \in \mathbb{R}^{n_\text{out} \times n_\text{in}}$ is row-major, as in
//!   PyTorch (`out x in`), so row $i$ holds the weights into output unit $i$.
//!
//! With these, a layer is $Y = W X$ ([`forward`]), its input gradient $\partial X = W^\top
//! \partial Y$ ([`backward_input`]) and its weight gradient $\partial W = \partial Y X^\top$
//! ([`backward_weight`]).

use super::microkernel::{self, Lhs, Rhs};
use super::scalar::Scalar;
use faer::{Accum, MatMut, MatRef, Par};
use std::cell::Cell;
use std::sync::OnceLock;

/// Whether products go to [`microkernel`] where it applies: when the CPU has AVX-512F, unless
/// `EOC_MATMUL=faer` is set (every product through faer; the results are the same bits, so this
/// only exists to time the two side by side).
pub fn kernel_enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| microkernel::available() && std::env::var("EOC_MATMUL").map_or(true, |v| v != "faer"))
}

thread_local! {
    static FAER_ONLY: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every product this thread computes going through faer, as with
/// `EOC_MATMUL=faer`: for comparing the two in one process (tests, benchmarks).
pub fn with_faer_only<R>(f: impl FnOnce() -> R) -> R {
    let before = FAER_ONLY.with(|c| c.replace(true));
    let out = f();
    FAER_ONLY.with(|c| c.set(before));
    out
}

/// `c [+]= alpha * a * b` on [`microkernel`] when it applies, returning false (and touching
/// nothing) when it does not: `f32`, a sequential product (faer keeps the products it is asked
/// to split over threads), a shape [`microkernel::supports`]. `c` is `m x n` column-major with
/// leading dimension `m`; `a` is `m x k`, column-major with leading dimension `m` or, with
/// `a_rowmajor`, row-major with leading dimension `k`; entry `(p, j)` of `b` is
/// `b[p * b_rs + j * b_cs]`.
#[allow(clippy::too_many_arguments)]
fn on_kernel<T: Scalar>(
    c: &mut [T],
    accumulate: bool,
    (a, a_rowmajor): (&[T], bool),
    b: &[T],
    (m, n, k): (usize, usize, usize),
    (b_rs, b_cs): (usize, usize),
    alpha: T,
    par: Par,
) -> bool {
    if !matches!(par, Par::Seq) || !microkernel::supports(m, n, k) || !kernel_enabled() || FAER_ONLY.with(Cell::get) {
        return false;
    }
    let (Some(c), Some(a), Some(b)) = (T::as_f32_mut(c), T::as_f32(a), T::as_f32(b)) else {
        return false;
    };
    let rhs = Rhs { data: b, row_stride: b_rs, col_stride: b_cs };
    let lhs = if a_rowmajor { Lhs::RowMajor { data: a, ld: k } } else { Lhs::ColMajor { data: a, ld: m } };
    microkernel::gemm(m, n, k, c, m, accumulate, lhs, rhs, alpha.f64() as f32);
    zero_upper();
    true
}

/// Clears the upper halves of the vector registers after a faer product.
///
/// faer's x86 kernels (AVX-512) return with the upper register state dirty; the next legacy-SSE
/// instruction (any Rust code compiled for the x86-64 baseline, glibc's `exp` wrapper, ...) then
/// pays a state-transition penalty. Measured on the development machine: the softmax of a
/// 128-sample batch took 11 us alone and 270 us right after a product, 11 us again with this.
#[inline(always)]
fn zero_upper() {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        unsafe fn zu() {
            #[allow(unused_unsafe)]
            // SAFETY: only called when the CPU has AVX.
            unsafe {
                std::arch::x86_64::_mm256_zeroupper()
            }
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX.
            unsafe { zu() }
        }
    }
}

/// Column-major `n x batch` view of a sample-major activation buffer.
#[inline]
pub fn act_ref<T: Scalar>(buf: &[T], n: usize, batch: usize) -> MatRef<'_, T> {
    MatRef::from_column_major_slice(&buf[..n * batch], n, batch)
}

/// Mutable column-major `n x batch` view of a sample-major activation buffer.
#[inline]
pub fn act_mut<T: Scalar>(buf: &mut [T], n: usize, batch: usize) -> MatMut<'_, T> {
    MatMut::from_column_major_slice_mut(&mut buf[..n * batch], n, batch)
}

/// Row-major `rows x cols` view of a weight matrix.
#[inline]
pub fn weight_ref<T: Scalar>(w: &[T], rows: usize, cols: usize) -> MatRef<'_, T> {
    MatRef::from_row_major_slice(w, rows, cols)
}

/// `y (n_out x batch) = W x` or, with `accumulate`, `y += W x`; `w` is `n_out x n_in` row-major.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Scalar>(
    y: &mut [T],
    accumulate: bool,
    w: &[T],
    x: &[T],
    n_in: usize,
    n_out: usize,
    batch: usize,
    par: Par,
) {
    if on_kernel(y, accumulate, (w, true), x, (n_out, batch, n_in), (1, n_in), T::one(), par) {
        return;
    }
    let acc = if accumulate { Accum::Add } else { Accum::Replace };
    faer::linalg::matmul::matmul(
        act_mut(y, n_out, batch),
        acc,
        weight_ref(w, n_out, n_in),
        act_ref(x, n_in, batch),
        T::one(),
        par,
    );
    zero_upper();
}

/// `dx (n_in x batch) = W^T dy` or, with `accumulate`, `dx += W^T dy`.
#[allow(clippy::too_many_arguments)]
pub fn backward_input<T: Scalar>(
    dx: &mut [T],
    accumulate: bool,
    w: &[T],
    dy: &[T],
    n_in: usize,
    n_out: usize,
    batch: usize,
    par: Par,
) {
    // W^T is the column-major n_in x n_out matrix with leading dimension n_in.
    if on_kernel(dx, accumulate, (w, false), dy, (n_in, batch, n_out), (1, n_out), T::one(), par) {
        return;
    }
    let acc = if accumulate { Accum::Add } else { Accum::Replace };
    faer::linalg::matmul::matmul(
        act_mut(dx, n_in, batch),
        acc,
        weight_ref(w, n_out, n_in).transpose(),
        act_ref(dy, n_out, batch),
        T::one(),
        par,
    );
    zero_upper();
}

/// `dW (n_out x n_in, row-major) = dy x^T` (sum over the batch), overwriting `dw`.
pub fn backward_weight<T: Scalar>(dw: &mut [T], dy: &[T], x: &[T], n_in: usize, n_out: usize, batch: usize, par: Par) {
    // dW^T (column-major n_in x n_out) = x dy^T.
    if on_kernel(dw, false, (x, false), dy, (n_in, n_out, batch), (n_out, 1), T::one(), par) {
        return;
    }
    faer::linalg::matmul::matmul(
        MatMut::from_row_major_slice_mut(dw, n_out, n_in),
        Accum::Replace,
        act_ref(dy, n_out, batch),
        act_ref(x, n_in, batch).transpose(),
        T::one(),
        par,
    );
    zero_upper();
}

/// `W += alpha * dy x^T` (`W` is `n_out x n_in` row-major): a fused SGD step with
/// `alpha` $= -\eta$.
#[allow(clippy::too_many_arguments)]
pub fn weight_update<T: Scalar>(
    w: &mut [T],
    alpha: T,
    dy: &[T],
    x: &[T],
    n_in: usize,
    n_out: usize,
    batch: usize,
    par: Par,
) {
    if on_kernel(w, true, (x, false), dy, (n_in, n_out, batch), (n_out, 1), alpha, par) {
        return;
    }
    faer::linalg::matmul::matmul(
        MatMut::from_row_major_slice_mut(w, n_out, n_in),
        Accum::Add,
        act_ref(dy, n_out, batch),
        act_ref(x, n_in, batch).transpose(),
        alpha,
        par,
    );
    zero_upper();
}

/// Best-of-`reps` throughput in GFLOP/s ($2mkn$ operations per product) of `inner` back-to-back
/// f32 products of an `m x k` by a `k x n` matrix with faer, `par` as given. A probe of the
/// machine: the performance appendix reports it, and the training stage calibrates its cost
/// estimate with it.
pub fn probe_gflops(m: usize, k: usize, n: usize, reps: usize, inner: usize, par: Par) -> f64 {
    let a = faer::Mat::<f32>::from_fn(m, k, |i, j| ((i * 7 + j * 3) % 11) as f32 * 0.1);
    let b = faer::Mat::<f32>::from_fn(k, n, |i, j| ((i * 5 + j) % 13) as f32 * 0.1);
    let mut c = faer::Mat::<f32>::zeros(m, n);
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = std::time::Instant::now();
        for _ in 0..inner.max(1) {
            faer::linalg::matmul::matmul(c.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0f32, par);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    zero_upper();
    std::hint::black_box(&c);
    2.0 * (m * k * n * inner.max(1)) as f64 / best / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive triple loops on the same storage conventions.
    #[test]
    fn products_match_naive_loops() {
        let (n_in, n_out, batch) = (5, 3, 4);
        let w: Vec<f64> = (0..n_out * n_in).map(|i| (i as f64 * 0.37).sin()).collect();
        let x: Vec<f64> = (0..n_in * batch).map(|i| (i as f64 * 0.91).cos()).collect();
        let dy: Vec<f64> = (0..n_out * batch).map(|i| (i as f64 * 1.3).sin()).collect();
        let mut y = vec![1.0; n_out * batch];
        forward(&mut y, true, &w, &x, n_in, n_out, batch, Par::Seq);
        for j in 0..batch {
            for i in 0..n_out {
                let s: f64 = (0..n_in).map(|k| w[i * n_in + k] * x[j * n_in + k]).sum();
                assert!((y[j * n_out + i] - 1.0 - s).abs() < 1e-14);
            }
        }
        let mut dx = vec![0.0; n_in * batch];
        backward_input(&mut dx, false, &w, &dy, n_in, n_out, batch, Par::Seq);
        for j in 0..batch {
            for k in 0..n_in {
                let s: f64 = (0..n_out).map(|i| w[i * n_in + k] * dy[j * n_out + i]).sum();
                assert!((dx[j * n_in + k] - s).abs() < 1e-14);
            }
        }
        let mut dw = vec![7.0; n_out * n_in];
        backward_weight(&mut dw, &dy, &x, n_in, n_out, batch, Par::Seq);
        for i in 0..n_out {
            for k in 0..n_in {
                let s: f64 = (0..batch).map(|j| dy[j * n_out + i] * x[j * n_in + k]).sum();
                assert!((dw[i * n_in + k] - s).abs() < 1e-14);
            }
        }
    }

    /// The four products of a layer give the same bits on the AVX-512 kernel as through faer
    /// (where the CPU has AVX-512F; elsewhere both sides are faer), at the shapes of the network:
    /// hidden 128 x 128, input 784 -> 128, output 128 -> 10 (faer's), widths 64 and 48, whole
    /// batches and column ranges.
    #[test]
    fn kernel_and_faer_give_the_same_bits() {
        let val = |i: usize, s: f32| ((i as f32 * 0.618_034 + s).sin() * 1.7).tan().clamp(-3.0, 3.0);
        let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits());
        for (n_in, n_out, batch) in
            [(128usize, 128usize, 128usize), (784, 128, 128), (128, 10, 128), (64, 64, 16), (48, 48, 40)]
        {
            let w: Vec<f32> = (0..n_out * n_in).map(|i| val(i, 0.3)).collect();
            let x: Vec<f32> = (0..n_in * batch).map(|i| val(i, 1.1)).collect();
            let dy: Vec<f32> = (0..n_out * batch).map(|i| val(i, 2.3)).collect();
            let y0: Vec<f32> = (0..n_out * batch).map(|i| val(i, 0.7)).collect();
            let dx0: Vec<f32> = (0..n_in * batch).map(|i| val(i, 0.9)).collect();
            let run = || {
                let mut out = Vec::new();
                for acc in [false, true] {
                    let mut y = y0.clone();
                    forward(&mut y, acc, &w, &x, n_in, n_out, batch, Par::Seq);
                    let mut dx = dx0.clone();
                    backward_input(&mut dx, acc, &w, &dy, n_in, n_out, batch, Par::Seq);
                    out.push(y);
                    out.push(dx);
                }
                let mut dw = w.clone();
                backward_weight(&mut dw, &dy, &x, n_in, n_out, batch, Par::Seq);
                let mut wu = w.clone();
                weight_update(&mut wu, -0.013, &dy, &x, n_in, n_out, batch, Par::Seq);
                out.push(dw);
                out.push(wu);
                out
            };
            let ours = run();
            let faer = with_faer_only(run);
            for (q, (a, b)) in ours.iter().zip(&faer).enumerate() {
                assert!(same(a, b), "product {q} at {n_out} x {n_in}, batch {batch}: kernel and faer differ");
            }
        }
    }

    /// The training step splits a batch into column ranges (one per thread) and relies on each
    /// column of a product being the same, bit for bit, whatever range it is computed in: faer's
    /// kernels sum over the inner dimension in one fixed order per output element. Checked for
    /// every split of 128 columns at the shapes of the network (inner dimensions 10, 128, 784)
    /// down to ranges of 4 columns, both product orientations, replacing and accumulating.
    #[test]
    fn column_ranges_give_bitwise_identical_columns() {
        let val = |i: usize, s: f32| ((i as f32 * 0.618_034 + s).sin() * 1.7).tan().clamp(-3.0, 3.0);
        let batch = 128;
        for (n_in, n_out) in [(128usize, 128usize), (784, 128), (128, 10), (10, 128)] {
            let w: Vec<f32> = (0..n_out * n_in).map(|i| val(i, 0.3)).collect();
            let x: Vec<f32> = (0..n_in * batch).map(|i| val(i, 1.1)).collect();
            let dy: Vec<f32> = (0..n_out * batch).map(|i| val(i, 2.3)).collect();
            let y0: Vec<f32> = (0..n_out * batch).map(|i| val(i, 0.7)).collect();
            let dx0: Vec<f32> = (0..n_in * batch).map(|i| val(i, 0.9)).collect();
            for acc in [false, true] {
                let mut y = y0.clone();
                forward(&mut y, acc, &w, &x, n_in, n_out, batch, Par::Seq);
                let mut dx = dx0.clone();
                backward_input(&mut dx, acc, &w, &dy, n_in, n_out, batch, Par::Seq);
                for width in 4..=batch {
                    let mut yr = y0.clone();
                    let mut dxr = dx0.clone();
                    let mut c0 = 0;
                    while c0 < batch {
                        let c1 = (c0 + width).min(batch);
                        let c0_ = if c1 - c0 < 4 { c1 - 4 } else { c0 };
                        // Ranges overlapping a previous one recompute it from the original.
                        yr[c0_ * n_out..c1 * n_out].copy_from_slice(&y0[c0_ * n_out..c1 * n_out]);
                        dxr[c0_ * n_in..c1 * n_in].copy_from_slice(&dx0[c0_ * n_in..c1 * n_in]);
                        let cols = c1 - c0_;
                        forward(&mut yr[c0_ * n_out..], acc, &w, &x[c0_ * n_in..], n_in, n_out, cols, Par::Seq);
                        backward_input(
                            &mut dxr[c0_ * n_in..],
                            acc,
                            &w,
                            &dy[c0_ * n_out..],
                            n_in,
                            n_out,
                            cols,
                            Par::Seq,
                        );
                        c0 = c1;
                    }
                    let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits());
                    assert!(same(&y, &yr), "forward {n_out}x{n_in}, ranges of {width}, accumulate {acc}");
                    assert!(same(&dx, &dxr), "backward_input {n_out}x{n_in}, ranges of {width}, accumulate {acc}");
                }
            }
        }
    }
}
