//! An AVX-512 `f32` matrix product for the network's layer products that gives faer's results
//! bit for bit, faster.
//!
//! $C \leftarrow [C] + \alpha \, A B$ with $C$ ($m \times n$) and $A$ ($m \times k$) column-major
//! (unit row stride) and $B$ ($k \times n$) at any strides. Each entry is computed the way faer's
//! AVX-512 kernels (the `private-gemm-x86` crate) compute it, so swapping one for the other changes
//! no bit of a training run and the published grid stays valid:
//!
//! - the inner dimension is cut into blocks of at most 512 (faer's `kc`); within a block the sum
//!   is one chain of fused multiply-adds in increasing $k$ started from $+0$,
//!   $s \leftarrow \operatorname{fma}(a_{ik}, b_{kj}, s)$;
//! - the block's sum is scaled, $t = \operatorname{fl}(\alpha s)$, then stored, $c = t$, or added,
//!   $c = \operatorname{fl}(c + t)$; every block after the first adds.
//!
//! The module's tests check the bits against faer over the shapes the network uses and more, so a
//! faer (or `private-gemm-x86`) update that changes its order fails them rather than silently
//! changing the training numerics.
//!
//! Why not faer itself: in a deep network each layer's operands come cold from memory (200 weight
//! matrices and the tape of a depth-100 FRN are tens of MB), and at 128 x 128 by 128 x 128 faer
//! splits 128 rows into a 96-row and a 32-row tile, packs the row-major weights on every call and
//! issues no software prefetch (its generated kernels contain none). Here the register tile is 32 rows by 12 columns (24 accumulators, no ragged
//! tile at 128 rows), each tile prefetches what the next one reads first, and a row-major left
//! operand is transposed in registers, 16 x 16 at a time, one panel of 32 rows before its tiles.
//! Measured on the development machine (AMD Zen 5, one thread): the forward and input-gradient
//! products of 200 layers 173 GFLOP/s through faer, 227 here; one hot 128^3 product 232 and 246;
//! 1024^3 the same (`cargo bench --bench nn -- product`). Written by hand because no crate offers a
//! product with a documented, fixed summation order that matches faer's.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// faer's block of the inner dimension: sums over longer inner dimensions are cut here.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const KC: usize = 512;
/// Rows per register tile, in 16-lane vectors (32 rows).
const MR_VECS: usize = 2;
/// Columns per register tile.
const NR: usize = 12;
// `dispatch` lists the tiles up to MR_VECS x NR.
const _: () = assert!(MR_VECS == 2 && NR == 12, "update `dispatch` for other tile sizes");

/// True when [`gemm`] can run on this CPU (AVX-512F).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The shapes [`gemm`] takes: rows a multiple of 16 and a product large enough that faer would
/// not hand it to its small-matrix path (nano-gemm, at most $16^3$ multiply-adds) or to its
/// matrix-vector and rank-one paths ($n = 1$, $m = 1$ or $k = 1$), whose summation orders differ.
pub fn supports(m: usize, n: usize, k: usize) -> bool {
    m.is_multiple_of(16) && m >= 16 && n >= 2 && k >= 2 && m.saturating_mul(n).saturating_mul(k) > 16 * 16 * 16
}

/// Strided view of the right operand: entry $(p, j)$ of $B$ is `b[p * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct Rhs<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub col_stride: usize,
}

/// The left operand $A$ ($m \times k$).
#[derive(Clone, Copy, Debug)]
pub enum Lhs<'a> {
    /// Entry $(i, p)$ at `data[i + p * ld]`.
    ColMajor { data: &'a [f32], ld: usize },
    /// Entry $(i, p)$ at `data[i * ld + p]`; each row panel is transposed into a buffer on the
    /// stack before its tiles run (as faer packs it).
    RowMajor { data: &'a [f32], ld: usize },
}

/// $C \leftarrow [C] + \alpha A B$ (see the module docs for the exact rounding).
///
/// `c` is `m x n` column-major with leading dimension `ldc`. With `accumulate` false, $C$'s old
/// values are not read.
///
/// # Panics
/// If the CPU lacks AVX-512F, the shape is not one of [`supports`], a leading dimension is below
/// `m`, or a slice is too short for the entries it must hold.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    a: Lhs<'_>,
    b: Rhs<'_>,
    alpha: f32,
) {
    assert!(available(), "microkernel::gemm needs AVX-512F");
    assert!(supports(m, n, k), "microkernel::gemm: unsupported shape {m} x {k} by {k} x {n}");
    assert!(ldc >= m, "leading dimension {ldc} of C below its {m} rows");
    assert!(c.len() >= ldc * (n - 1) + m, "C holds {} entries, {m} x {n} with ldc {ldc} needs more", c.len());
    let (a_data, last_a) = match a {
        Lhs::ColMajor { data, ld } => {
            assert!(ld >= m, "leading dimension {ld} of A below its {m} rows");
            (data, ld * (k - 1) + m - 1)
        }
        Lhs::RowMajor { data, ld } => {
            assert!(ld >= k, "leading dimension {ld} of row-major A below its {k} columns");
            (data, ld * (m - 1) + k - 1)
        }
    };
    assert!(a_data.len() > last_a, "A holds {} entries, entry {last_a} is read", a_data.len());
    let last_b = (k - 1) * b.row_stride + (n - 1) * b.col_stride;
    assert!(b.data.len() > last_b, "B holds {} entries, entry {last_b} is read", b.data.len());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is present (asserted), and every index the kernel forms is below the
    // lengths asserted above: rows < m <= ld, columns < n, inner indices < k.
    unsafe {
        gemm_avx512(m, n, k, c.as_mut_ptr(), ldc, accumulate, a, b, alpha)
    }
    // Elsewhere `available()` is false and the first assertion stops the call.
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (accumulate, alpha);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_avx512(
    m: usize,
    n: usize,
    k: usize,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
    a: Lhs<'_>,
    b: Rhs<'_>,
    alpha: f32,
) {
    #[repr(align(64))]
    struct Panel([f32; MR_VECS * 16 * KC]);
    // Written by `transpose_panel` before it is read; not zeroed (64 KB per call).
    let mut panel = std::mem::MaybeUninit::<Panel>::uninit();
    let panel_ptr = std::ptr::addr_of_mut!((*panel.as_mut_ptr()).0) as *mut f32;
    let bp = b.data.as_ptr();
    let mut k0 = 0;
    while k0 < k {
        let kb = (k - k0).min(KC);
        let add = accumulate || k0 > 0;
        let mut i0 = 0;
        while i0 < m {
            let vecs = ((m - i0) / 16).min(MR_VECS);
            let rows = vecs * 16;
            // This panel's rows of A, column-major (`ap`, leading dimension `lda`), and the
            // prefetch stream of the next panel.
            let (ap, lda, next_a) = match a {
                Lhs::ColMajor { data, ld } => {
                    let next = data.as_ptr().wrapping_add(i0 + rows + k0 * ld);
                    (data.as_ptr().add(i0 + k0 * ld), ld, ([next, next.wrapping_add(16)], ld))
                }
                Lhs::RowMajor { data, ld } => {
                    transpose_panel(data.as_ptr().add(i0 * ld + k0), ld, rows, kb, panel_ptr);
                    let next = data.as_ptr().wrapping_add((i0 + rows) * ld + k0);
                    (panel_ptr as *const f32, rows, ([next, next.wrapping_add(16)], 32))
                }
            };
            let mut j0 = 0;
            while j0 < n {
                let cols = (n - j0).min(NR);
                // Prefetch what the next tile reads first: the next columns of B, or the next rows
                // of A when this is the last tile of a row panel.
                let (pf, pf_step) = if j0 + cols < n {
                    let next = bp.wrapping_add(k0 * b.row_stride + (j0 + cols) * b.col_stride);
                    if b.row_stride == 1 {
                        ([next, next.wrapping_add(16 * kb)], 16)
                    } else {
                        ([next, next.wrapping_add(16)], b.row_stride)
                    }
                } else {
                    next_a
                };
                let t = Tile {
                    pf,
                    pf_step,
                    k: kb,
                    a: ap,
                    lda,
                    b: bp.add(k0 * b.row_stride + j0 * b.col_stride),
                    brs: b.row_stride,
                    bcs: b.col_stride,
                    c: c.add(i0 + j0 * ldc),
                    ldc,
                    alpha,
                    add,
                };
                dispatch(vecs, cols, t);
                j0 += cols;
            }
            i0 += rows;
        }
        k0 += kb;
    }
}

/// Copies `rows` (a multiple of 16) rows by `cols` columns of the row-major matrix at `src`
/// (leading dimension `ld`) into `dst`, column-major with leading dimension `rows`: 16 x 16
/// blocks through registers, the last `cols % 16` columns one by one.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transpose_panel(src: *const f32, ld: usize, rows: usize, cols: usize, dst: *mut f32) {
    for r0 in (0..rows).step_by(16) {
        let mut c0 = 0;
        while c0 + 16 <= cols {
            transpose16(src.add(r0 * ld + c0), ld, dst.add(r0 + c0 * rows), rows);
            c0 += 16;
        }
        for c in c0..cols {
            for r in r0..r0 + 16 {
                *dst.add(r + c * rows) = *src.add(r * ld + c);
            }
        }
    }
}

/// The 16 x 16 block at `src` (rows `ld` apart) written transposed at `dst` (rows `ldd` apart):
/// interleave pairs of rows, then pairs of pairs, then 128-bit lanes twice.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn transpose16(src: *const f32, ld: usize, dst: *mut f32, ldd: usize) {
    let mut r = [_mm512_setzero_ps(); 16];
    for (i, x) in r.iter_mut().enumerate() {
        *x = _mm512_loadu_ps(src.add(i * ld));
    }
    let mut t = [_mm512_setzero_ps(); 16];
    for q in 0..8 {
        t[2 * q] = _mm512_unpacklo_ps(r[2 * q], r[2 * q + 1]);
        t[2 * q + 1] = _mm512_unpackhi_ps(r[2 * q], r[2 * q + 1]);
    }
    for q in 0..4 {
        let a = _mm512_castps_pd(t[4 * q]);
        let b = _mm512_castps_pd(t[4 * q + 1]);
        let c = _mm512_castps_pd(t[4 * q + 2]);
        let d = _mm512_castps_pd(t[4 * q + 3]);
        r[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for q in 0..2 {
        for s in 0..4 {
            let (x, y) = (r[8 * q + s], r[8 * q + 4 + s]);
            t[8 * q + s] = _mm512_shuffle_f32x4::<0x88>(x, y);
            t[8 * q + 4 + s] = _mm512_shuffle_f32x4::<0xdd>(x, y);
        }
    }
    for s in 0..8 {
        r[s] = _mm512_shuffle_f32x4::<0x88>(t[s], t[8 + s]);
        r[8 + s] = _mm512_shuffle_f32x4::<0xdd>(t[s], t[8 + s]);
    }
    for (i, x) in r.iter().enumerate() {
        _mm512_storeu_ps(dst.add(i * ldd), *x);
    }
}

/// The register tile of `vecs` vectors by `cols` columns (1..=MR_VECS, 1..=NR).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dispatch(vecs: usize, cols: usize, t: Tile) {
    match (vecs, cols) {
        (1, 1) => tile::<1, 1>(t),
        (1, 2) => tile::<1, 2>(t),
        (1, 3) => tile::<1, 3>(t),
        (1, 4) => tile::<1, 4>(t),
        (1, 5) => tile::<1, 5>(t),
        (1, 6) => tile::<1, 6>(t),
        (1, 7) => tile::<1, 7>(t),
        (1, 8) => tile::<1, 8>(t),
        (1, 9) => tile::<1, 9>(t),
        (1, 10) => tile::<1, 10>(t),
        (1, 11) => tile::<1, 11>(t),
        (1, 12) => tile::<1, 12>(t),
        (2, 1) => tile::<2, 1>(t),
        (2, 2) => tile::<2, 2>(t),
        (2, 3) => tile::<2, 3>(t),
        (2, 4) => tile::<2, 4>(t),
        (2, 5) => tile::<2, 5>(t),
        (2, 6) => tile::<2, 6>(t),
        (2, 7) => tile::<2, 7>(t),
        (2, 8) => tile::<2, 8>(t),
        (2, 9) => tile::<2, 9>(t),
        (2, 10) => tile::<2, 10>(t),
        (2, 11) => tile::<2, 11>(t),
        (2, 12) => tile::<2, 12>(t),
        _ => unreachable!(),
    }
}

/// One register tile's operands: `V * 16` rows from `a`, `N` columns from `b`, into `c`.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Tile {
    pf: [*const f32; 2],
    pf_step: usize,
    k: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    brs: usize,
    bcs: usize,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    add: bool,
}

/// The register tile: `V` vectors of 16 rows by `N` columns of accumulators, one fused
/// multiply-add chain per entry over the block's inner dimension, then the scaled store or add.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const V: usize, const N: usize>(t: Tile) {
    let mut acc = [[_mm512_setzero_ps(); V]; N];
    let mut a = t.a;
    let mut b = t.b;
    let [mut pf0, mut pf1] = t.pf;
    for _ in 0..t.k {
        _mm_prefetch::<_MM_HINT_T0>(pf0 as *const i8);
        _mm_prefetch::<_MM_HINT_T0>(pf1 as *const i8);
        pf0 = pf0.wrapping_add(t.pf_step);
        pf1 = pf1.wrapping_add(t.pf_step);
        let mut av = [_mm512_setzero_ps(); V];
        for (v, x) in av.iter_mut().enumerate() {
            *x = _mm512_loadu_ps(a.add(16 * v));
        }
        for (j, col) in acc.iter_mut().enumerate() {
            let bj = _mm512_set1_ps(*b.add(j * t.bcs));
            for (x, s) in av.iter().zip(col.iter_mut()) {
                *s = _mm512_fmadd_ps(*x, bj, *s);
            }
        }
        a = a.add(t.lda);
        b = b.add(t.brs);
    }
    let alpha = _mm512_set1_ps(t.alpha);
    for (j, col) in acc.iter().enumerate() {
        let cj = t.c.add(j * t.ldc);
        for (v, s) in col.iter().enumerate() {
            let scaled = _mm512_mul_ps(*s, alpha);
            let out = if t.add { _mm512_add_ps(_mm512_loadu_ps(cj.add(16 * v)), scaled) } else { scaled };
            _mm512_storeu_ps(cj.add(16 * v), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::{Accum, MatMut, MatRef, Par};

    /// Values with full mantissas and mixed signs and magnitudes, so a different summation order
    /// or rounding shows in the bits.
    fn val(i: usize, s: f32) -> f32 {
        ((i as f32 * 0.618_034 + s).sin() * 1.7).tan().clamp(-3.0, 3.0) * if i.is_multiple_of(7) { 1e-3 } else { 1.0 }
    }

    /// One case: `C` (m x n, column-major, ldc = m + pad) [+]= alpha A B, with A column-major
    /// (lda = m + pad) and B either column-major or a transposed column-major matrix; faer and
    /// the kernel on copies of the same data, compared bit for bit.
    #[allow(clippy::too_many_arguments)]
    fn check(
        m: usize,
        n: usize,
        k: usize,
        a_rowmajor: bool,
        b_transposed: bool,
        accumulate: bool,
        alpha: f32,
        pad: usize,
    ) {
        let (lda, ldc) = if a_rowmajor { (k + pad, m + pad) } else { (m + pad, m + pad) };
        let a: Vec<f32> = (0..lda * if a_rowmajor { m } else { k }).map(|i| val(i, 0.3)).collect();
        // B column-major k x n (ld k), or the transpose of a column-major n x k matrix (ld n).
        let b: Vec<f32> = (0..k * n).map(|i| val(i, 1.1)).collect();
        let c0: Vec<f32> = (0..ldc * n).map(|i| val(i, 2.3)).collect();
        let a_ref = if a_rowmajor {
            MatRef::from_row_major_slice_with_stride(&a[..], m, k, lda)
        } else {
            MatRef::from_column_major_slice_with_stride(&a[..], m, k, lda)
        };
        let b_ref = if b_transposed {
            MatRef::from_column_major_slice(&b[..], n, k).transpose()
        } else {
            MatRef::from_column_major_slice(&b[..], k, n)
        };
        let mut c_faer = c0.clone();
        faer::linalg::matmul::matmul(
            MatMut::from_column_major_slice_with_stride_mut(&mut c_faer[..], m, n, ldc),
            if accumulate { Accum::Add } else { Accum::Replace },
            a_ref,
            b_ref,
            alpha,
            Par::Seq,
        );
        let mut c_ours = c0.clone();
        let rhs = if b_transposed {
            Rhs { data: &b, row_stride: n, col_stride: 1 }
        } else {
            Rhs { data: &b, row_stride: 1, col_stride: k }
        };
        let lhs = if a_rowmajor { Lhs::RowMajor { data: &a, ld: lda } } else { Lhs::ColMajor { data: &a, ld: lda } };
        gemm(m, n, k, &mut c_ours, ldc, accumulate, lhs, rhs, alpha);
        for (idx, (p, q)) in c_faer.iter().zip(&c_ours).enumerate() {
            assert_eq!(
                p.to_bits(),
                q.to_bits(),
                "{m}x{k} by {k}x{n} (A row-major {a_rowmajor}, B transposed {b_transposed}, accumulate {accumulate}, alpha {alpha}, pad {pad}): \
                 entry {idx}: faer {p:e}, kernel {q:e}"
            );
        }
    }

    /// The network's products (hidden 128 x 128, input layer 784 x 128 weight gradients, inner
    /// dimensions above faer's block of 512) and ragged tiles of every size, against faer.
    #[test]
    fn bitwise_identical_to_faer() {
        if !available() {
            eprintln!("no AVX-512F: the kernel is not used on this CPU, nothing to compare");
            return;
        }
        let shapes = [
            (128, 128, 128),
            (784, 128, 128),
            (128, 128, 784),
            (64, 16, 128),
            (16, 2, 300),
            (48, 7, 129),
            (80, 5, 513),
            (128, 130, 1100),
            (32, 3, 64),
            (16, 17, 17),
        ];
        for (m, n, k) in shapes {
            for a_rowmajor in [false, true] {
                for b_transposed in [false, true] {
                    for accumulate in [false, true] {
                        for alpha in [1.0, -0.01] {
                            check(m, n, k, a_rowmajor, b_transposed, accumulate, alpha, 0);
                        }
                    }
                    check(m, n, k, a_rowmajor, b_transposed, true, 1.0, 3);
                }
            }
        }
    }

    #[test]
    fn shapes_outside_faers_large_path_are_declined() {
        assert!(supports(128, 128, 128));
        assert!(!supports(10, 128, 128), "rows not a multiple of 16");
        assert!(!supports(128, 1, 128), "matrix-vector");
        assert!(!supports(128, 128, 1), "rank one");
        assert!(!supports(16, 16, 16), "nano-gemm's range");
        assert!(supports(16, 16, 17));
    }
}
