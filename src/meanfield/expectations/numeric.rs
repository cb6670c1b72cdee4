//! The kernel of any activation by quadrature, [`Numeric`] (tanh, GELU, any $\phi$ without a
//! closed form): the expectations tabulated over $\ln q$ and interpolated.

use super::*;

// ---------------------------------------------------------------------------------------------
// Numerical activations
// ---------------------------------------------------------------------------------------------

/// Symmetry of $\phi$, used to halve the quadratures and the Hermite expansion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parity {
    Odd,
    Even,
    None,
}

type ScalarFn = Arc<dyn Fn(f64) -> f64 + Send + Sync>;

/// Highest Hermite index of the Mehler expansion.
pub const N_HERMITE: usize = 256;
/// Table grid in $\xi = \ln q$.
pub const XI_MIN: f64 = -18.420_680_743_952_367; // ln 1e-8
pub const XI_MAX: f64 = 27.631_021_115_928_547; // ln 1e12
pub const XI_STEP: f64 = 1.0 / 32.0;
/// The Mehler sum is used when its truncation bound is below this (relative) tolerance.
pub const MEHLER_TOL: f64 = 1e-12;

/// One tabulated variance: $\ln V$, $\ln V'$ and the normalised squared Hermite coefficients.
#[derive(Debug, Clone)]
struct Node {
    ln_v: f64,
    ln_vp: f64,
    /// $b_n$ for the stored indices (odd $n$ for odd $\phi$, even for even, all otherwise).
    b: Vec<f64>,
}

/// Gaussian expectations of an arbitrary activation given as a function and its derivative,
/// by quadrature (see the module documentation). Build with [`Numeric::new`] (any
/// `Fn(f64) -> f64` pair), [`Numeric::tanh`] or [`Numeric::gelu`].
pub struct Numeric {
    name: String,
    phi: ScalarFn,
    dphi: ScalarFn,
    parity: Parity,
    /// Above this $\ln q$, delegate to an asymptotically equivalent closed-form kernel.
    large_q: Option<(f64, Arc<dyn Kernel>)>,
    table: Vec<OnceLock<Node>>,
    /// Whether to use the table at all (tests compare with and without).
    tabulate: bool,
}

impl fmt::Debug for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Numeric").field("name", &self.name).field("parity", &self.parity).finish()
    }
}

impl Numeric {
    /// A numerical kernel for $\phi$ with derivative $\phi'$. `parity` lets the quadrature use the
    /// symmetry of $\phi$ (pass [`Parity::None`] when unsure).
    pub fn new(
        name: impl Into<String>,
        phi: impl Fn(f64) -> f64 + Send + Sync + 'static,
        dphi: impl Fn(f64) -> f64 + Send + Sync + 'static,
        parity: Parity,
    ) -> Self {
        let n = ((XI_MAX - XI_MIN) / XI_STEP).round() as usize + 1;
        Self {
            name: name.into(),
            phi: Arc::new(phi),
            dphi: Arc::new(dphi),
            parity,
            large_q: None,
            table: (0..n).map(|_| OnceLock::new()).collect(),
            tabulate: true,
        }
    }

    /// tanh.
    pub fn tanh() -> Self {
        Self::new("tanh", f64::tanh, |x| Activation::Tanh.deriv(x), Parity::Odd)
    }

    /// GELU $x\Phi(x)$. For $q > 10^{20}$ it uses the ReLU kernel: $\mathrm{GELU}(x) - \mathrm{ReLU}(x) =
    /// -|x|\Phi(-|x|)$ decays like $e^{-x^2/2}$, so the kernels differ there by $O(q^{-3/2})$ in
    /// $V$ and $W$ and by $O(q^{-1/2}) = 10^{-10}$ (relative) in $V'$.
    pub fn gelu() -> Self {
        let mut k = Self::new("gelu", |x| Activation::Gelu.eval(x), |x| Activation::Gelu.deriv(x), Parity::None);
        k.large_q = Some((20.0 * std::f64::consts::LN_10, Arc::new(Relu)));
        k
    }

    /// Disables the interpolation table (every call integrates afresh; for tests).
    pub fn without_table(mut self) -> Self {
        self.tabulate = false;
        self
    }

    fn stored_indices(&self) -> impl Iterator<Item = usize> + '_ {
        (0..=N_HERMITE).filter(move |n| match self.parity {
            Parity::Odd => n % 2 == 1,
            Parity::Even => n % 2 == 0,
            Parity::None => true,
        })
    }

    /// $(V, V')$ by the composite rule.
    fn v_vp_direct(&self, q: f64) -> (f64, f64) {
        let r = q.sqrt();
        let t = (1.0 / r).min(1.0);
        let (phi, dphi) = (&self.phi, &self.dphi);
        let mut rule = Vec::new();
        let lo = if self.parity == Parity::None { -ZMAX } else { 0.0 };
        composite(&breakpoints(&[(0.0, t)], lo, ZMAX, 1.0), 20, &mut rule);
        let (mut v, mut vp) = (0.0, 0.0);
        for &(z, w) in &rule {
            let wg = w * gauss_pdf(z);
            let (f, g) = (phi(r * z), dphi(r * z));
            v += wg * f * f;
            vp += wg * g * g;
        }
        if lo == 0.0 {
            (2.0 * v, 2.0 * vp)
        } else {
            (v, vp)
        }
    }

    /// Tabulated quantities at $q$: $V$, $V'$ and the normalised squared Hermite coefficients
    /// $b_n = a_n^2 / V$, $a_n = \mathbb E[\phi(\sqrt q z) He_n(z)]/\sqrt{n!}$ (recurrence
    /// $h_{n+1} = (z h_n - \sqrt n h_{n-1})/\sqrt{n+1}$ for the normalised polynomials).
    fn node(&self, q: f64) -> Node {
        let r = q.sqrt();
        let t = (1.0 / r).min(1.0);
        let lo = if self.parity == Parity::None { -13.0 } else { 0.0 };
        let mut rule = Vec::new();
        composite(&breakpoints(&[(0.0, t)], lo, 13.0, 0.25), 16, &mut rule);
        let sq: Vec<f64> = (0..=N_HERMITE + 1).map(|n| (n as f64).sqrt()).collect();
        let mut a = vec![0.0; N_HERMITE + 1];
        let (mut v, mut vp) = (0.0, 0.0);
        for &(z, w) in &rule {
            let wg = w * gauss_pdf(z);
            let f = (self.phi)(r * z);
            let g = (self.dphi)(r * z);
            v += wg * f * f;
            vp += wg * g * g;
            let wf = wg * f;
            let (mut h0, mut h1) = (1.0, z);
            a[0] += wf;
            a[1] += wf * z;
            for n in 1..N_HERMITE {
                let h2 = (z * h1 - sq[n] * h0) / sq[n + 1];
                a[n + 1] += wf * h2;
                h0 = h1;
                h1 = h2;
            }
        }
        let scale = if lo == 0.0 { 2.0 } else { 1.0 };
        let (v, vp) = (scale * v, scale * vp);
        let b = self
            .stored_indices()
            .map(|n| {
                let an = scale * a[n];
                if v > 0.0 {
                    an * an / v
                } else {
                    0.0
                }
            })
            .collect();
        Node { ln_v: v.ln(), ln_vp: vp.ln(), b }
    }

    fn table_node(&self, k: usize) -> &Node {
        self.table[k].get_or_init(|| self.node((XI_MIN + k as f64 * XI_STEP).exp()))
    }

    /// Interpolated node at $\ln q$, if inside the table.
    fn interpolated(&self, ln_q: f64) -> Option<Node> {
        if !self.tabulate {
            return None;
        }
        let u = (ln_q - XI_MIN) / XI_STEP;
        let k = u.floor();
        if !(k >= 3.0 && (k as usize) + 4 < self.table.len()) {
            return None;
        }
        let k = k as usize;
        let u = u - k as f64;
        // 8-point Lagrange weights on nodes k-3..=k+4, i.e. offsets -3..=4.
        let mut wts = [0.0; 8];
        for (j, wj) in wts.iter_mut().enumerate() {
            let oj = j as f64 - 3.0;
            let mut w = 1.0;
            for i in 0..8 {
                if i != j {
                    let oi = i as f64 - 3.0;
                    w *= (u - oi) / (oj - oi);
                }
            }
            *wj = w;
        }
        let nodes: Vec<&Node> = (0..8).map(|j| self.table_node(k + j - 3)).collect();
        let mut out = Node { ln_v: 0.0, ln_vp: 0.0, b: vec![0.0; nodes[0].b.len()] };
        for (w, n) in wts.iter().zip(&nodes) {
            out.ln_v += w * n.ln_v;
            out.ln_vp += w * n.ln_vp;
            for (o, b) in out.b.iter_mut().zip(&n.b) {
                *o += w * b;
            }
        }
        Some(out)
    }

    /// Mehler sum: $J = \sum b_n c^n + R$, $1 - J = \sum b_n (1 - c^n) + \tau - R$ with the tail
    /// $\tau = 1 - \sum b_n$ and $|R| \le |c|^{N+1}\tau$. Returns `None` if that bound is too loose.
    fn mehler(&self, node: &Node, corr: Corr) -> Option<(f64, f64)> {
        let c = corr.c;
        let tail = (1.0 - node.b.iter().sum::<f64>()).max(0.0);
        let bound = c.abs().powi(N_HERMITE as i32 + 1) * tail;
        let (mut s0, mut sg) = (0.0, 0.0);
        let (mut pow, mut g) = (1.0, 0.0); // c^n and G_n = (1 - c^n)/(1 - c) = sum_{k<n} c^k
        let mut idx = self.stored_indices();
        let mut next = idx.next();
        let mut bi = 0;
        for n in 0..=N_HERMITE {
            if next == Some(n) {
                s0 += node.b[bi] * pow;
                sg += node.b[bi] * g;
                bi += 1;
                next = idx.next();
            }
            g = 1.0 + c * g;
            pow *= c;
        }
        let j = s0;
        let omj = corr.one_minus_c * sg + tail;
        let ok = bound <= 1e-300 || bound <= MEHLER_TOL * j.abs().min(omj);
        ok.then_some((j, omj))
    }

    /// $(J, 1 - J)$ by the two-dimensional quadrature: $W$ directly for $c \le 0$, and
    /// $V - W = \frac12\mathbb E[(\phi(u) - \phi(u'))^2]$ for $c > 0$.
    pub(super) fn j_quadrature(&self, q: f64, v: f64, corr: Corr) -> (f64, f64) {
        let phi = &self.phi;
        if corr.c > 0.0 {
            let d = gauss_expect2(q, q, corr, |u, w| {
                let x = phi(u) - phi(w);
                0.5 * x * x
            });
            (1.0 - d / v, d / v)
        } else {
            let w = gauss_expect2(q, q, corr, |u, w| phi(u) * phi(w));
            (w / v, 1.0 - w / v)
        }
    }
}

impl Kernel for Numeric {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn at(&self, ln_q: f64, corr: Corr) -> Result<KernelValues, MeanFieldError> {
        check_ln_q(ln_q)?;
        if let Some((thr, k)) = &self.large_q {
            if ln_q > *thr {
                return k.at(ln_q, corr);
            }
        }
        if ln_q < LN_Q_TINY {
            // phi(sqrt(q) z) = phi(0) + phi'(0) sqrt(q) z + O(q): linear regime.
            let (f0, g0) = ((self.phi)(0.0), (self.dphi)(0.0));
            return Ok(if f0 != 0.0 {
                KernelValues { ln_v: (f0 * f0).ln(), j: 1.0, one_minus_j: 0.0, ln_vp: (g0 * g0).ln() }
            } else {
                KernelValues {
                    ln_v: if ln_q == f64::NEG_INFINITY { f64::NEG_INFINITY } else { ln_q + (g0 * g0).ln() },
                    j: corr.c,
                    one_minus_j: corr.one_minus_c,
                    ln_vp: (g0 * g0).ln(),
                }
            });
        }
        if ln_q > LN_Q_HUGE {
            return Err(MeanFieldError::OutOfRange { kernel: self.name.clone(), ln_q });
        }
        let q = ln_q.exp();
        let node = match self.interpolated(ln_q) {
            Some(n) => n,
            None => {
                let mut n = self.node(q);
                let (v, vp) = self.v_vp_direct(q);
                n.ln_v = v.ln();
                n.ln_vp = vp.ln();
                n
            }
        };
        let (j, one_minus_j) = if corr.one_minus_c == 0.0 {
            (1.0, 0.0)
        } else {
            match self.mehler(&node, corr) {
                Some(x) => x,
                None => self.j_quadrature(q, node.ln_v.exp(), corr),
            }
        };
        Ok(KernelValues { ln_v: node.ln_v, j, one_minus_j, ln_vp: node.ln_vp })
    }

    fn w2(&self, q1: f64, q2: f64, lambda: f64) -> Result<f64, MeanFieldError> {
        if q1 == q2 {
            return self.w(q1, lambda);
        }
        let r = (q1 * q2).sqrt();
        let corr = Corr::new(if r > 0.0 { lambda / r } else { 1.0 });
        let phi = &self.phi;
        Ok(gauss_expect2(q1, q2, corr, |u, w| phi(u) * phi(w)))
    }
}
