//! The float trait the network core is generic over ([`Scalar`], implemented for `f32` and `f64`)
//! and the fused element-wise kernels: bias + activation on the forward pass, activation derivative
//! + bias gradient on the backward pass.
//!
//! Every kernel walks contiguous memory (one sample's `N` features at a time) and has no branches
//! in its inner loop for tanh/ReLU, so LLVM vectorizes it; on x86-64 each kernel is compiled twice,
//! once for the baseline and once with AVX2+FMA, and the second is picked at run time.
//!
//! In `f32` tanh is a rational approximation (the 13/6 minimax form used by Eigen's
//! `generic_fast_tanh_float`, clamped to $|x| \le 7.9053$), within a few ulp of the true value
//! (checked in a test against `f64::tanh`); in `f64` it is `f64::tanh`, so the simulations and the
//! finite-difference gradient checks see the exact function. Likewise $x^\alpha$ of the
//! $\alpha$-ReLU is $e^{\alpha \ln x}$ with branch-free polynomial $\ln$ and $\exp$ in `f32`
//! ([`fast_pow_f32`], vectorized like the rest; libm's `powf` is a call per element and made
//! $\alpha$-ReLU networks train at 60% of the speed of tanh ones), `f64::powf` in `f64`.

use crate::activation::Activation;
use std::fmt::Debug;

/// A float type the network can be built in: `f32` (training) or `f64` (simulations, gradient
/// checks). Matrix products go through faer, hence the `RealField` bound.
pub trait Scalar:
    faer::traits::RealField + Copy + Send + Sync + Default + Debug + std::ops::Neg<Output = Self> + std::iter::Sum + 'static
{
    /// Name for messages and benchmark labels: `"f32"` or `"f64"`.
    const NAME: &'static str;
    /// The conversion `x as Self` (round to nearest).
    fn of(x: f64) -> Self;
    /// The conversion `self as f64` (exact).
    fn f64(self) -> f64;
    /// $\tanh x$ (fast rational form in `f32`, libm in `f64`).
    fn tanh_k(self) -> Self;
    /// $\operatorname{erf} x$.
    fn erf_k(self) -> Self;
    /// $e^x$.
    fn exp_k(self) -> Self;
    /// $x^a$ for $x > 0$.
    fn powf_k(self, a: Self) -> Self;
    /// `max(self, other)` without NaN special-casing.
    #[inline(always)]
    fn max_k(self, other: Self) -> Self {
        if self > other {
            self
        } else {
            other
        }
    }
    /// True if finite (not NaN, not infinite).
    fn is_finite_k(self) -> bool;
    /// The slice as `f32`, for the `f32`-only product kernel ([`super::microkernel`]); `None` for
    /// other types.
    fn as_f32(s: &[Self]) -> Option<&[f32]>;
    /// The mutable slice as `f32`; `None` for other types.
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]>;
}

impl Scalar for f32 {
    const NAME: &'static str = "f32";
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn tanh_k(self) -> Self {
        fast_tanh_f32(self)
    }
    #[inline(always)]
    fn erf_k(self) -> Self {
        libm::erff(self)
    }
    #[inline(always)]
    fn exp_k(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn powf_k(self, a: Self) -> Self {
        fast_pow_f32(self, a)
    }
    #[inline(always)]
    fn is_finite_k(self) -> bool {
        self.is_finite()
    }
    #[inline(always)]
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        Some(s)
    }
    #[inline(always)]
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        Some(s)
    }
}

impl Scalar for f64 {
    const NAME: &'static str = "f64";
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn tanh_k(self) -> Self {
        self.tanh()
    }
    #[inline(always)]
    fn erf_k(self) -> Self {
        libm::erf(self)
    }
    #[inline(always)]
    fn exp_k(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn powf_k(self, a: Self) -> Self {
        self.powf(a)
    }
    #[inline(always)]
    fn is_finite_k(self) -> bool {
        self.is_finite()
    }
    #[inline(always)]
    fn as_f32(_: &[Self]) -> Option<&[f32]> {
        None
    }
    #[inline(always)]
    fn as_f32_mut(_: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
}

/// $\tanh x$ in `f32` by the rational approximation $x\,P(x^2)/Q(x^2)$ of degrees 13/6 on
/// $|x| \le 7.90531$ (outside, the clamp gives $\pm(1 - 2^{-22})$ or so, within 2 ulp of $\pm 1$).
/// Coefficients from Eigen (`MathFunctionsImpl.h`, `generic_fast_tanh_float`).
#[inline(always)]
#[allow(clippy::excessive_precision)]
pub fn fast_tanh_f32(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const A1: f32 = 4.893_524_6e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_671_5e-11;
    const A11: f32 = 2.000_188e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525e-3;
    const B2: f32 = 2.268_434_7e-3;
    const B4: f32 = 1.185_347_1e-4;
    const B6: f32 = 1.198_258_4e-6;
    // Branch-free clamp (NaN falls through the comparisons unchanged and propagates).
    let x = if x > CLAMP { CLAMP } else { x };
    let x = if x < -CLAMP { -CLAMP } else { x };
    // Plain multiply-adds (no `mul_add`: without FMA hardware that is a slow libm call, and the
    // baseline kernel must not depend on it).
    let x2 = x * x;
    let mut p = x2 * A13 + A11;
    p = p * x2 + A9;
    p = p * x2 + A7;
    p = p * x2 + A5;
    p = p * x2 + A3;
    p = p * x2 + A1;
    p *= x;
    let mut q = x2 * B6 + B4;
    q = q * x2 + B2;
    q = q * x2 + B0;
    p / q
}

/// $x^a$ in `f32` for $x > 0$ as $2^{a \log_2 x}$: $x = m\,2^e$ with $m \in [\sqrt{1/2},
/// \sqrt 2)$, $\ln m$ by the Cephes `logf` polynomial for $\ln(1 + t)$; $y = a e + a \log_2 m$
/// with both products split exactly into value and rounding error by fused multiply-adds, so that
/// $y = n + f$ ($n$ integer, $|f| \le 1/2$) keeps $f$ to about $10^{-7}$ however large $|y|$;
/// then $2^f$ by the Cephes `exp2f` polynomial and an exact scaling by $2^n$ (in two factors, so
/// that subnormal results round once). Branch-free (selects only), so loops over it vectorize.
/// Within a few ulp of the correctly rounded value for moderate $a$ (checked in a test against
/// `f64::powf` over the whole `f32` range); subnormal $x$, $+\infty$, overflow to $+\infty$ and
/// underflow to 0 are handled. Only $x > 0$ is meant (the $\alpha$-ReLU gives 0 elsewhere); $x
/// \le 0$ or NaN gives an unspecified value. The fused multiply-adds are instructions in the
/// kernels compiled for AVX2+FMA and AVX-512 and a (slow, equally exact) libm call in the baseline
/// build.
#[inline(always)]
#[allow(clippy::excessive_precision)]
pub fn fast_pow_f32(x: f32, a: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    // Subnormal inputs: scale into the normal range first.
    let sub = x < f32::MIN_POSITIVE;
    let xs = if sub { x * 8_388_608.0 } else { x };
    let bits = xs.to_bits();
    // xs = m 2^e, m in [0.5, 1).
    let e = ((bits >> 23) & 0xff) as i32 - 126 - if sub { 23 } else { 0 };
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    // m in [sqrt(1/2), sqrt(2)): t = m - 1.
    let low = m < SQRT_HALF;
    let ef = (e - i32::from(low)) as f32;
    let t = if low { m + m - 1.0 } else { m - 1.0 };
    // The Cephes polynomial P(t) of ln(1 + t) = t - t^2/2 + t^3 P(t), in Estrin's scheme with
    // fused multiply-adds (a short dependency chain: the loops over this are latency-bound).
    let z = t * t;
    let z2 = z * z;
    let q0 = t.mul_add(-2.499_999_4e-1, 3.333_333_1e-1);
    let q1 = t.mul_add(-1.666_805_8e-1, 2.000_071_5e-1);
    let q2 = t.mul_add(-1.242_014_1e-1, 1.424_932_3e-1);
    let q3 = t.mul_add(-1.151_461_0e-1, 1.167_699_9e-1);
    let p = z2.mul_add(z2 * 7.037_683_6e-2, z2.mul_add(z.mul_add(q3, q2), z.mul_add(q1, q0)));
    // log2 m (|log2 m| <= 1/2, to about an ulp).
    let l2m = (t + (p * t).mul_add(z, -0.5 * z)) * std::f32::consts::LOG2_E;
    // y = a e + a log2 m = (p1 + e1) + (p2 + e2), each product exactly.
    let p1 = a * ef;
    let e1 = a.mul_add(ef, -p1);
    let p2 = a * l2m;
    let e2 = a.mul_add(l2m, -p2);
    let y = p1 + p2;
    // n = round(y) by the 1.5 * 2^23 trick, which also leaves n in the low bits (no float-to-int
    // conversion, which would not vectorize); y is clamped so that n stays in range.
    const ROUND: f32 = 12_582_912.0;
    let yc = if y < -151.0 { -151.0 } else { y };
    let yc = if yc > 129.0 { 129.0 } else { yc };
    let shifted = yc + ROUND;
    let ni = (shifted.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000;
    let n = shifted - ROUND;
    // f = y - n, with the rounding errors of the products.
    let f = ((p1 - n) + p2) + (e1 + e2);
    // 2^f = 1 + f Q(f) (Cephes exp2f), Estrin's scheme.
    let f2 = f * f;
    let u0 = f.mul_add(2.402_264_8e-1, 6.931_472e-1);
    let u1 = f.mul_add(9.618_437_4e-3, 5.550_332_5e-2);
    let u2 = f.mul_add(1.535_336_2e-4, 1.339_887_4e-3);
    let pf = f.mul_add(f2.mul_add(f2.mul_add(u2, u1), u0), 1.0);
    let n1 = ni >> 1;
    let n2 = ni - n1;
    let s1 = f32::from_bits(((n1 + 127) as u32) << 23);
    let s2 = f32::from_bits(((n2 + 127) as u32) << 23);
    let out = pf * s1 * s2;
    let out = if y >= 128.0 || xs == f32::INFINITY { f32::INFINITY } else { out };
    if y < -150.0 {
        0.0
    } else {
        out
    }
}

/// The activation in a form the kernels can match on once per call (not per element).
#[derive(Clone, Copy, Debug)]
pub enum Kernel<T> {
    Tanh,
    Relu,
    AlphaRelu(T),
    Erf,
    /// Any other activation: evaluated element-wise through [`Activation::eval`] in `f64`.
    Generic(Activation),
}

impl<T: Scalar> Kernel<T> {
    /// Whether the derivative needs the pre-activation $h$ (otherwise $\phi(h)$ is enough:
    /// $\tanh' = 1 - \phi^2$, $\mathrm{relu}'(h) = [\phi > 0]$).
    pub fn needs_h(&self) -> bool {
        !matches!(self, Self::Tanh | Self::Relu)
    }

    pub fn new(act: Activation) -> Self {
        match act {
            Activation::Tanh => Self::Tanh,
            Activation::Relu => Self::Relu,
            Activation::AlphaRelu { alpha: 1.0 } => Self::Relu,
            Activation::AlphaRelu { alpha } => Self::AlphaRelu(T::of(alpha)),
            Activation::Erf => Self::Erf,
            other => Self::Generic(other),
        }
    }
}

/// Runs `$body` compiled for AVX-512 or AVX2+FMA when the CPU has them, for the baseline
/// otherwise.
macro_rules! simd_dispatch {
    (fn $name:ident<$t:ident>($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        #[inline(always)]
        fn body<$t: Scalar>($($arg: $ty),*) $body

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn avx512<$t: Scalar>($($arg: $ty),*) {
            body::<$t>($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<$t: Scalar>($($arg: $ty),*) {
            body::<$t>($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vl") {
                // SAFETY: the CPU supports the features `avx512` was compiled with.
                return unsafe { avx512::<$t>($($arg),*) };
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features `avx2` was compiled with.
                return unsafe { avx2::<$t>($($arg),*) };
            }
        }
        body::<$t>($($arg),*)
    };
}

/// Forward kernel: for every sample (column of `n` features) `h += bias`, then `phi = act(h)`.
/// `h` and `phi` have the same length, a multiple of `n`; `bias` has length `n`.
pub fn bias_act_forward<T: Scalar>(k: Kernel<T>, n: usize, bias: Option<&[T]>, h: &mut [T], phi: &mut [T]) {
    debug_assert_eq!(h.len(), phi.len());
    match bias {
        Some(b) => {
            debug_assert_eq!(b.len(), n);
            fwd_bias(k, n, b, h, phi)
        }
        None => act_forward(k, h, phi),
    }
}

fn fwd_bias<T: Scalar>(k: Kernel<T>, n: usize, b: &[T], h: &mut [T], phi: &mut [T]) {
    simd_dispatch! {
        fn f<T>(k: Kernel<T>, n: usize, b: &[T], h: &mut [T], phi: &mut [T]) {
            for (hc, pc) in h.chunks_exact_mut(n).zip(phi.chunks_exact_mut(n)) {
                for (hv, &bv) in hc.iter_mut().zip(b) {
                    *hv += bv;
                }
                act_slice(k, hc, pc);
            }
        }
    }
}

/// Forward kernel of an FRN block after $h = W x$: for every sample (column of `n` features)
/// `h += b`, `phi = act(h)` and `xl = xp + a` (the residual branch before $V\phi$ is added), in
/// one pass over the columns. tanh and ReLU have kernels of their own (so that their machine code
/// does not depend on that of the other activations).
#[allow(clippy::too_many_arguments)]
pub fn frn_forward<T: Scalar>(
    k: Kernel<T>,
    n: usize,
    b: &[T],
    h: &mut [T],
    phi: &mut [T],
    xp: &[T],
    a: &[T],
    xl: &mut [T],
) {
    debug_assert!(h.len() == phi.len() && xp.len() == h.len() && xl.len() == h.len());
    #[inline(always)]
    fn cols<T: Scalar>(k: Kernel<T>, n: usize, b: &[T], h: &mut [T], phi: &mut [T], xp: &[T], a: &[T], xl: &mut [T]) {
        let cols =
            h.chunks_exact_mut(n).zip(phi.chunks_exact_mut(n)).zip(xp.chunks_exact(n).zip(xl.chunks_exact_mut(n)));
        for ((hc, pc), (xc, lc)) in cols {
            for (hv, &bv) in hc.iter_mut().zip(b) {
                *hv += bv;
            }
            act_slice(k, hc, pc);
            for ((l, &x), &av) in lc.iter_mut().zip(xc).zip(a) {
                *l = x + av;
            }
        }
    }
    fn tanh<T: Scalar>(n: usize, b: &[T], h: &mut [T], phi: &mut [T], xp: &[T], a: &[T], xl: &mut [T]) {
        simd_dispatch! {
            fn f<T>(n: usize, b: &[T], h: &mut [T], phi: &mut [T], xp: &[T], a: &[T], xl: &mut [T]) {
                cols(Kernel::Tanh, n, b, h, phi, xp, a, xl);
            }
        }
    }
    fn relu<T: Scalar>(n: usize, b: &[T], h: &mut [T], phi: &mut [T], xp: &[T], a: &[T], xl: &mut [T]) {
        simd_dispatch! {
            fn f<T>(n: usize, b: &[T], h: &mut [T], phi: &mut [T], xp: &[T], a: &[T], xl: &mut [T]) {
                cols(Kernel::Relu, n, b, h, phi, xp, a, xl);
            }
        }
    }
    fn other<T: Scalar>(k: Kernel<T>, n: usize, b: &[T], h: &mut [T], phi: &mut [T], xp: &[T], a: &[T], xl: &mut [T]) {
        simd_dispatch! {
            fn f<T>(k: Kernel<T>, n: usize, b: &[T], h: &mut [T], phi: &mut [T], xp: &[T], a: &[T], xl: &mut [T]) {
                cols(k, n, b, h, phi, xp, a, xl);
            }
        }
    }
    match k {
        Kernel::Tanh => tanh(n, b, h, phi, xp, a, xl),
        Kernel::Relu => relu(n, b, h, phi, xp, a, xl),
        _ => other(k, n, b, h, phi, xp, a, xl),
    }
}

/// Forward kernel without bias: `phi = act(h)` element-wise.
pub fn act_forward<T: Scalar>(k: Kernel<T>, h: &[T], phi: &mut [T]) {
    debug_assert_eq!(h.len(), phi.len());
    simd_dispatch! {
        fn f<T>(k: Kernel<T>, h: &[T], phi: &mut [T]) {
            act_slice(k, h, phi);
        }
    }
}

#[inline(always)]
fn act_slice<T: Scalar>(k: Kernel<T>, h: &[T], phi: &mut [T]) {
    let zero = T::zero();
    match k {
        Kernel::Tanh => {
            for (p, &x) in phi.iter_mut().zip(h) {
                *p = x.tanh_k();
            }
        }
        Kernel::Relu => {
            for (p, &x) in phi.iter_mut().zip(h) {
                *p = if x > zero { x } else { zero };
            }
        }
        Kernel::AlphaRelu(a) => {
            for (p, &x) in phi.iter_mut().zip(h) {
                *p = if x > zero { x.powf_k(a) } else { zero };
            }
        }
        Kernel::Erf => {
            for (p, &x) in phi.iter_mut().zip(h) {
                *p = x.erf_k();
            }
        }
        Kernel::Generic(act) => {
            for (p, &x) in phi.iter_mut().zip(h) {
                *p = T::of(act.eval(x.f64()));
            }
        }
    }
}

/// Backward kernel: `g <- g * act'(h)` element-wise (`g` holds $\partial E/\partial\phi$ on entry,
/// $\partial E/\partial h$ on exit), using the stored `phi = act(h)` where that is cheaper
/// ($\tanh' = 1 - \phi^2$, $\phi_\alpha' = \alpha\phi/h$ for $h > 0$). If `db` is given, it receives
/// the sum over samples of the result (the bias gradient), overwriting its content.
pub fn act_backward<T: Scalar>(k: Kernel<T>, n: usize, h: &[T], phi: &[T], g: &mut [T], db: Option<&mut [T]>) {
    debug_assert_eq!(h.len(), g.len());
    debug_assert_eq!(phi.len(), g.len());
    match db {
        Some(db) => {
            debug_assert_eq!(db.len(), n);
            db.fill(T::zero());
            bwd_db(k, n, h, phi, g, db)
        }
        None => bwd_nodb(k, n, h, phi, g),
    }
}

fn bwd_db<T: Scalar>(k: Kernel<T>, n: usize, h: &[T], phi: &[T], g: &mut [T], db: &mut [T]) {
    simd_dispatch! {
        fn f<T>(k: Kernel<T>, n: usize, h: &[T], phi: &[T], g: &mut [T], db: &mut [T]) {
            for ((gc, hc), pc) in g.chunks_exact_mut(n).zip(h.chunks_exact(n)).zip(phi.chunks_exact(n)) {
                deriv_slice(k, hc, pc, gc);
                for (d, &v) in db.iter_mut().zip(gc.iter()) {
                    *d += v;
                }
            }
        }
    }
}

fn bwd_nodb<T: Scalar>(k: Kernel<T>, n: usize, h: &[T], phi: &[T], g: &mut [T]) {
    simd_dispatch! {
        fn f<T>(k: Kernel<T>, n: usize, h: &[T], phi: &[T], g: &mut [T]) {
            let _ = n;
            deriv_slice(k, h, phi, g);
        }
    }
}

#[inline(always)]
fn deriv_slice<T: Scalar>(k: Kernel<T>, h: &[T], phi: &[T], g: &mut [T]) {
    let zero = T::zero();
    let one = T::one();
    match k {
        Kernel::Tanh => {
            for (gv, &p) in g.iter_mut().zip(phi) {
                *gv *= one - p * p;
            }
        }
        Kernel::Relu => {
            // phi > 0 exactly when h > 0 (NaN gives phi = 0), so phi serves when h is not kept.
            for (gv, &p) in g.iter_mut().zip(phi) {
                *gv = if p > zero { *gv } else { zero };
            }
        }
        Kernel::AlphaRelu(a) => {
            for ((gv, &x), &p) in g.iter_mut().zip(h).zip(phi) {
                *gv = if x > zero { *gv * a * p / x } else { zero };
            }
        }
        Kernel::Erf => {
            let c = T::of(std::f64::consts::FRAC_2_SQRT_PI);
            for (gv, &x) in g.iter_mut().zip(h) {
                *gv *= c * (-(x * x)).exp_k();
            }
        }
        Kernel::Generic(act) => {
            for (gv, &x) in g.iter_mut().zip(h) {
                *gv *= T::of(act.deriv(x.f64()));
            }
        }
    }
}

/// `dst[col] = src[col] + bias` for every column of `n` features (`src` `None`: `dst[col] = bias`).
pub fn add_bias_columns<T: Scalar>(n: usize, src: Option<&[T]>, bias: &[T], dst: &mut [T]) {
    simd_dispatch! {
        fn f<T>(n: usize, src: Option<&[T]>, bias: &[T], dst: &mut [T]) {
            match src {
                Some(src) => {
                    for (dc, sc) in dst.chunks_exact_mut(n).zip(src.chunks_exact(n)) {
                        for ((d, &s), &b) in dc.iter_mut().zip(sc).zip(bias) {
                            *d = s + b;
                        }
                    }
                }
                None => {
                    for dc in dst.chunks_exact_mut(n) {
                        dc.copy_from_slice(bias);
                    }
                }
            }
        }
    }
}

/// `out = sum over columns of src` (each column has `n` entries).
pub fn sum_columns<T: Scalar>(n: usize, src: &[T], out: &mut [T]) {
    simd_dispatch! {
        fn f<T>(n: usize, src: &[T], out: &mut [T]) {
            out.fill(T::zero());
            for sc in src.chunks_exact(n) {
                for (o, &s) in out.iter_mut().zip(sc) {
                    *o += s;
                }
            }
        }
    }
}

/// `acc += src` element-wise.
pub fn add_assign<T: Scalar>(acc: &mut [T], src: &[T]) {
    simd_dispatch! {
        fn f<T>(acc: &mut [T], src: &[T]) {
            for (a, &s) in acc.iter_mut().zip(src) {
                *a += s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_tanh_is_within_a_few_ulp_of_libm() {
        // Reference: f64::tanh (correctly rounded to within 1 ulp of f64), rounded to f32.
        let mut max_ulp = 0.0f64;
        let mut x = -12.0f64;
        while x <= 12.0 {
            let xf = x as f32;
            let exact = (xf as f64).tanh();
            let got = fast_tanh_f32(xf) as f64;
            let ulp = (exact as f32).abs().max(f32::MIN_POSITIVE) as f64 * f32::EPSILON as f64;
            max_ulp = max_ulp.max((got - exact).abs() / ulp);
            x += 1.0e-3;
        }
        assert!(max_ulp < 8.0, "max error {max_ulp} ulp");
        assert!(fast_tanh_f32(f32::NAN).is_nan());
        assert!((fast_tanh_f32(f32::INFINITY) - 1.0).abs() < 1e-6);
        assert!((fast_tanh_f32(f32::NEG_INFINITY) + 1.0).abs() < 1e-6);
    }

    #[test]
    fn fast_pow_is_within_a_few_ulp_of_libm() {
        // Reference: f64::powf rounded to f32; x log-spaced over the whole f32 range.
        for a in [0.25f32, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 7.5] {
            let mut max_ulp = 0.0f64;
            let mut lx = -149.0f64;
            while lx < 128.0 {
                let x = 2f64.powf(lx) as f32;
                lx += 0.0137;
                if x == 0.0 || !x.is_finite() {
                    continue;
                }
                let exact = (x as f64).powf(a as f64);
                let got = fast_pow_f32(x, a) as f64;
                if exact > f32::MAX as f64 {
                    assert_eq!(got, f64::INFINITY, "{x}^{a}");
                    continue;
                }
                let e32 = exact as f32;
                // One ulp of the exact value in f32 (the subnormal spacing below MIN_POSITIVE).
                let ulp = (e32.abs().max(f32::MIN_POSITIVE) as f64) * f32::EPSILON as f64;
                let err = (got - exact).abs() / ulp;
                max_ulp = max_ulp.max(err);
            }
            // Measured: 0.85 ulp at a = 0.75, 2.2 ulp at a = 7.5.
            assert!(max_ulp < 3.0, "x^{a}: max error {max_ulp} ulp");
        }
        assert_eq!(fast_pow_f32(f32::INFINITY, 0.75), f32::INFINITY);
        assert_eq!(fast_pow_f32(1.0, 0.75), 1.0);
        assert_eq!(fast_pow_f32(4.0, 0.5), 2.0);
        assert_eq!(fast_pow_f32(1e30, 3.0), f32::INFINITY);
        assert_eq!(fast_pow_f32(1e-30, 5.0), 0.0);
    }

    #[test]
    fn kernels_match_the_activation_definitions() {
        // act_slice / deriv_slice against Activation::eval / deriv (independent scalar code).
        let acts = [
            Activation::Tanh,
            Activation::Relu,
            Activation::AlphaRelu { alpha: 0.75 },
            Activation::AlphaRelu { alpha: 1.5 },
            Activation::Erf,
            Activation::Gelu,
        ];
        let n = 7;
        let h0: Vec<f64> = (0..3 * n).map(|i| -2.9 + 0.283 * i as f64).collect();
        let bias: Vec<f64> = (0..n).map(|i| 0.01 * i as f64).collect();
        for act in acts {
            let k = Kernel::<f64>::new(act);
            let mut h = h0.clone();
            let mut phi = vec![0.0; h.len()];
            bias_act_forward(k, n, Some(&bias), &mut h, &mut phi);
            let mut g: Vec<f64> = (0..h.len()).map(|i| 1.0 + 0.1 * i as f64).collect();
            let g0 = g.clone();
            let mut db = vec![0.0; n];
            act_backward(k, n, &h, &phi, &mut g, Some(&mut db));
            let mut db_ref = vec![0.0; n];
            for i in 0..h.len() {
                let x = h0[i] + bias[i % n];
                assert!((h[i] - x).abs() < 1e-15);
                assert!((phi[i] - act.eval(x)).abs() < 1e-14, "{act} at {x}");
                let d = g0[i] * act.deriv(x);
                assert!((g[i] - d).abs() < 1e-12 * (1.0 + d.abs()), "{act}' at {x}: {} vs {d}", g[i]);
                db_ref[i % n] += d;
            }
            for i in 0..n {
                assert!((db[i] - db_ref[i]).abs() < 1e-12);
            }
        }
    }
}
