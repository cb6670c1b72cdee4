use super::compute::{dot, mean_sq, CONTROL_SEED};
use super::config::{case, limits};
use super::*;
use crate::nn::{self, ModelSpec, Params};

fn tiny_task(c: SimCase, width: usize, depth: usize, seed: u64) -> Task {
    Task { case: c, width, depth, seed, p0: 1.3, e0: 0.4, independent_control: true }
}

/// The inputs have exactly the requested length and cosine.
#[test]
fn inputs_have_requested_geometry() {
    let ([x, xp], _) = inputs_and_cotangents(50, 1.3, -0.35, 9);
    assert!((dot(&x, &x) / 50.0 - 1.3).abs() < 1e-12);
    assert!((dot(&xp, &xp) / 50.0 - 1.3).abs() < 1e-12);
    assert!((dot(&x, &xp) / (dot(&x, &x) * dot(&xp, &xp)).sqrt() + 0.35).abs() < 1e-12);
}

/// The measurement against a naive, loop-by-loop forward and backward pass written here from
/// the model equations (docs/theory.md §1) on the stored weights: p, e, chi, chi_w, and the control.
#[test]
fn measurement_matches_naive_loops() {
    for c in [
        SimCase { sb2: 0.3, sa2: 0.2, ..case("f", Architecture::Full, ActName::Tanh, None, 1.5, 0.8) },
        SimCase { sb2: 0.1, ..case("r", Architecture::Reduced, ActName::AlphaRelu, Some(0.75), 1.2, 0.0) },
    ] {
        let (n, depth, seed) = (6, 3, 4);
        let task = tiny_task(c.clone(), n, depth, seed);
        let r = simulate(&task).unwrap();
        let act = c.activation().unwrap();
        let spec = ModelSpec::trunk(c.arch, act, n, depth, c.sw2, c.sv2, c.sb2, c.sa2);
        let ([x0, x1], gs) = inputs_and_cotangents(n, task.p0, task.e0, seed);
        let matvec = |w: &[f64], x: &[f64], t: bool| -> Vec<f64> {
            (0..n).map(|i| (0..n).map(|j| if t { w[j * n + i] * x[j] } else { w[i * n + j] * x[j] }).sum()).collect()
        };
        // Forward, keeping x^l and the pre-activations z^l (h^l for FRN, x^{l-1} for RRN).
        let naive = |params: &Params<f64>, x: &[f64]| -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
            let mut xs = vec![x.to_vec()];
            let mut zs = vec![];
            let p = params;
            for l in 0..depth {
                let b = p.block(l);
                let xp = xs[l].clone();
                let next: Vec<f64> = match c.arch {
                    Architecture::Full => {
                        let h: Vec<f64> = matvec(b.w, &xp, false).iter().zip(b.b).map(|(u, v)| u + v).collect();
                        let ph: Vec<f64> = h.iter().map(|&u| act.eval(u)).collect();
                        let out = matvec(b.v, &ph, false);
                        zs.push(h);
                        (0..n).map(|i| xp[i] + out[i] + b.a[i]).collect()
                    }
                    _ => {
                        let ph: Vec<f64> = xp.iter().map(|&u| act.eval(u)).collect();
                        let out = matvec(b.w, &ph, false);
                        zs.push(xp.clone());
                        (0..n).map(|i| xp[i] + out[i] + b.b[i]).collect()
                    }
                };
                xs.push(next);
            }
            (xs, zs)
        };
        // Backward: returns g^l for l = 0..L and the per-block mean squared dW.
        let back = |params: &Params<f64>, xs: &[Vec<f64>], zs: &[Vec<f64>], g: &[f64]| -> (Vec<Vec<f64>>, Vec<f64>) {
            let mut gl = vec![vec![]; depth + 1];
            let mut dw = vec![0.0; depth];
            gl[depth] = g.to_vec();
            for l in (1..=depth).rev() {
                let b = params.block(l - 1);
                let g = gl[l].clone();
                match c.arch {
                    Architecture::Full => {
                        let vg = matvec(b.v, &g, true);
                        let dh: Vec<f64> = (0..n).map(|i| vg[i] * act.deriv(zs[l - 1][i])).collect();
                        let wd = matvec(b.w, &dh, true);
                        dw[l - 1] = (0..n)
                            .flat_map(|i| (0..n).map(move |j| (i, j)))
                            .map(|(i, j)| (dh[i] * xs[l - 1][j]).powi(2))
                            .sum::<f64>()
                            / (n * n) as f64;
                        gl[l - 1] = (0..n).map(|i| g[i] + wd[i]).collect();
                    }
                    _ => {
                        let ph: Vec<f64> = zs[l - 1].iter().map(|&u| act.eval(u)).collect();
                        dw[l - 1] = (0..n)
                            .flat_map(|i| (0..n).map(move |j| (i, j)))
                            .map(|(i, j)| (g[i] * ph[j]).powi(2))
                            .sum::<f64>()
                            / (n * n) as f64;
                        let wg = matvec(b.w, &g, true);
                        gl[l - 1] = (0..n).map(|i| g[i] + wg[i] * act.deriv(zs[l - 1][i])).collect();
                    }
                }
            }
            (gl, dw)
        };
        let params = nn::init::<f64>(&spec, seed).unwrap();
        let (xa, za) = naive(&params, &x0);
        let (xb, zb) = naive(&params, &x1);
        let close =
            |a: f64, b: f64, what: &str| assert!((a - b).abs() <= 1e-11 * b.abs().max(1e-300), "{what}: {a} vs {b}");
        for l in 0..=depth {
            close(r.p[l], 0.5 * (mean_sq(&xa[l]) + mean_sq(&xb[l])), "p");
            close(r.e[l], dot(&xa[l], &xb[l]) / (dot(&xa[l], &xa[l]) * dot(&xb[l], &xb[l])).sqrt(), "e");
        }
        let (ga, dwa) = back(&params, &xa, &za, &gs[0]);
        let (gb, dwb) = back(&params, &xb, &zb, &gs[1]);
        let (na, nb) = (mean_sq(&gs[0]), mean_sq(&gs[1]));
        for l in 0..=depth {
            close(r.chi[l], 0.5 * (mean_sq(&ga[l]) / na + mean_sq(&gb[l]) / nb), "chi");
        }
        for l in 0..depth {
            close(r.chi_w[l], 0.5 * (dwa[l] / na + dwb[l] / nb), "chi_w");
        }
        let other = nn::init::<f64>(&spec, seed + CONTROL_SEED).unwrap();
        let (ga, _) = back(&other, &xa, &za, &gs[0]);
        let (gb, _) = back(&other, &xb, &zb, &gs[1]);
        let ind = r.chi_indep.as_ref().unwrap();
        for l in 0..=depth {
            close(ind[l], 0.5 * (mean_sq(&ga[l]) / na + mean_sq(&gb[l]) / nb), "chi_indep");
        }
    }
}

/// ReLU FRN with zero biases: given x^{l-1}, W x^{l-1} is exactly Gaussian with variance
/// sw2 |x^{l-1}|^2/N per unit, so E[|x^l|^2/N | x^{l-1}] = (1 + sv2 sw2/2) |x^{l-1}|^2/N and
/// E[p^L] = p^0 (1 + sv2 sw2/2)^L exactly at every width. The seed mean at small width must lie within
/// 4 standard errors (from the observed spread) of this product, and must reject a rate
/// `WRONG_RATE_EXCESS` too large (the test has the power to fail).
#[test]
fn relu_frn_mean_length_is_the_exact_product() {
    let c = case("relu", Architecture::Full, ActName::Relu, None, 1.0, 2.0);
    let (n, depth, seeds) = (exact_test::WIDTH, exact_test::DEPTH, exact_test::SEEDS);
    let ps: Vec<f64> = (0..seeds)
        .map(|s| {
            let mut t = tiny_task(c.clone(), n, depth, s);
            t.independent_control = false;
            simulate(&t).unwrap().p[depth]
        })
        .collect();
    let st = stat(&ps);
    let se = st.sd / (seeds as f64).sqrt();
    let exact = 1.3 * (1.0f64 + 2.0 / 2.0).powi(depth as i32);
    assert!((st.mean - exact).abs() <= 4.0 * se, "mean {} vs exact {exact} (se {se})", st.mean);
    let wrong = 1.3 * (1.0f64 + (1.0 + exact_test::WRONG_RATE_EXCESS) * 2.0 / 2.0).powi(depth as i32);
    assert!((st.mean - wrong).abs() > 4.0 * se, "a 5% larger rate {wrong} is not rejected (mean {}, se {se})", st.mean);
    // And the mean-field recurrence gives the same product.
    let cfg = Config { depth, p0: 1.3, e0: 0.4, ..Config::default() };
    let mf = mean_field(&c, &cfg).unwrap();
    assert!((mf.p[depth] / exact - 1.0).abs() < 1e-12);
}

/// A seed gives the same numbers whatever the thread count (rayon pools of 1 and 2 threads).
#[test]
fn same_seed_same_numbers_across_thread_counts() {
    use rayon::prelude::*;
    let cfg = Config { widths: vec![8, 12], depth: 5, seeds: 3, ..Config::default() };
    let tasks = cfg.tasks();
    let run = |threads: usize| -> Vec<RunResult> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| tasks.par_iter().map(|t| RunResult { seconds: 0.0, ..simulate(t).unwrap() }).collect())
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a, b);
    assert_ne!(a[0], a[1], "different seeds differ");
}

/// A small configuration yields the table with the issue's keys, figures and claims.
#[test]
fn small_config_produces_complete_artifact() {
    let cfg = Config { widths: vec![8, 16], depth: 6, seeds: 3, table_depths: vec![2, 4], ..Config::default() };
    cfg.check().unwrap();
    let tasks = cfg.tasks();
    let results: Vec<RunResult> = tasks.iter().map(|t| simulate(t).unwrap()).collect();
    let pairs: Vec<(&Task, &RunResult)> = tasks.iter().zip(&results).collect();
    let art = build_artifact(&cfg, &pairs, 0.0, tasks.len()).unwrap();
    let t = &art.tables[0];
    assert_eq!(t.name, "simulations");
    for k in [
        "arch",
        "act",
        "alpha",
        "width",
        "depth",
        "quantity",
        "mean_field",
        "simulated_mean",
        "simulated_sd",
        "seeds",
        "rel_dev",
    ] {
        assert!(t.rows.iter().all(|r| r.get(k).is_some()), "{k}");
    }
    // 4 cases x 3 depths (2, 4, 6) x 6 quantities x 2 widths.
    assert_eq!(t.rows.len(), 4 * 3 * 6 * 2);
    assert_eq!(art.claims.len(), 3);
    assert_eq!(art.figures.len(), cfg.cases.len() + 1);
    for f in &art.figures {
        assert!(
            f.name.starts_with("simulations-") && f.svg.starts_with("<svg") && f.svg.trim_end().ends_with("</svg>")
        );
        crate::report::markdown::prepare_svg(&f.svg, &f.name, "x").unwrap();
    }
}

/// Student t tails against closed forms (nu = 1: Cauchy, 1 - (2/pi) atan t; nu = 2:
/// 1 - t/sqrt(2 + t^2)) and the critical values of the standard t table (Abramowitz & Stegun
/// Table 26.10: nu = 7, t = 2.998 for two-sided 0.02 and 3.499 for 0.01; nu = 15, 2.947 for 0.01;
/// printed to 3 decimals, hence the 2e-3 relative tolerance).
#[test]
fn student_t_tail_matches_closed_forms_and_tables() {
    for t in [0.0, 0.5, 1.0, 3.0, 10.0] {
        let cauchy = 1.0 - 2.0 / std::f64::consts::PI * f64::atan(t);
        assert!((student_t_tail(t, 1.0).unwrap() - cauchy).abs() < 1e-9, "nu = 1, t = {t}");
        let two = 1.0 - t / (2.0 + t * t).sqrt();
        assert!((student_t_tail(t, 2.0).unwrap() - two).abs() < 1e-9, "nu = 2, t = {t}");
    }
    for (t, nu, p) in [(2.998, 7.0, 0.02), (3.499, 7.0, 0.01), (2.947, 15.0, 0.01)] {
        let got = student_t_tail(t, nu).unwrap();
        assert!((got / p - 1.0).abs() < 2e-3, "t = {t}, nu = {nu}: {got} vs {p}");
    }
    assert!(student_t_tail(-1.0, 3.0).is_err());
}

/// E|T| against quadrature of |t| times the density, and its Gaussian limit sqrt(2/pi).
#[test]
fn mean_abs_t_matches_quadrature() {
    use crate::math::quadrature::{integrate, Tol};
    for nu in [2.5, 7.0, 15.0] {
        let ln_c = crate::math::special::ln_gamma((nu + 1.0) / 2.0)
            - crate::math::special::ln_gamma(nu / 2.0)
            - 0.5 * (nu * std::f64::consts::PI).ln();
        let q = integrate(
            |x: f64| 2.0 * x * (ln_c - (nu + 1.0) / 2.0 * (1.0 + x * x / nu).ln()).exp(),
            0.0,
            f64::INFINITY,
            Tol::new(1e-13, 1e-10),
        )
        .unwrap();
        assert!((mean_abs_t(nu) / q.value - 1.0).abs() < 1e-8, "nu = {nu}");
    }
    assert!((mean_abs_t(1e7) - (2.0 / std::f64::consts::PI).sqrt()).abs() < 1e-6);
}

/// The memory estimate counts weights and gradients (FRN at N = 1024, L = 100: 2 x 8 bytes x
/// 100 x 2 (1024^2 + 1024) = 3.36 GB plus the tape), and the pool size respects the budget.
#[test]
fn memory_budget_limits_concurrency() {
    let t = Task { ..tiny_task(case("f", Architecture::Full, ActName::Tanh, None, 1.0, 1.0), 1024, 100, 0) };
    let b = task_bytes(&t);
    assert!(b > 3_355_000_000 && b < 3_400_000_000, "{b}");
    assert_eq!(concurrent_tasks(8.0, b, 16), 2);
    assert_eq!(concurrent_tasks(1.0, b, 16), 1);
    assert_eq!(concurrent_tasks(100.0, 1000, 2), 2);
}

/// The built-in profiles and the integration tests' tiny profile pass the check.
#[test]
fn profiles_pass_the_check() {
    Config::default().check().unwrap();
    for name in ["quick", "paper"] {
        crate::stages::Profile::load(name).unwrap().simulations.check().unwrap();
    }
    let tiny = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/profiles/tiny.toml");
    crate::stages::Profile::load(tiny).unwrap().simulations.check().unwrap();
}

/// Every key rejects what would panic, abort, overflow or run for hours, and the message names
/// the key (with its path inside `cases`) and the value.
#[test]
fn check_rejects_bad_values_naming_the_key() {
    let bad = |f: &dyn Fn(&mut Config), key: &str| {
        let mut cfg = Config::default();
        f(&mut cfg);
        let e = cfg.check().expect_err(key).to_string();
        assert!(e.starts_with(&format!("[simulations] {key} = ")), "{key}: {e}");
    };
    bad(&|c| c.widths = vec![1_000_000_000], "widths");
    bad(&|c| c.widths = vec![], "widths");
    bad(&|c| c.widths = vec![1], "widths");
    bad(&|c| c.widths = vec![512, 256], "widths");
    bad(&|c| c.widths = vec![256, 256], "widths");
    bad(&|c| c.widths = (1..=17).map(|k| 16 * k).collect(), "widths");
    bad(&|c| c.widths = vec![256, limits::MAX_WIDTH], "widths"); // 43 GB per network at depth 100
    bad(&|c| c.depth = 0, "depth");
    bad(&|c| c.depth = 1_000_000_000_000, "depth");
    bad(&|c| c.depth = usize::MAX, "depth");
    bad(&|c| c.seeds = 1, "seeds");
    bad(&|c| c.seeds = 1_000_000_000, "seeds");
    bad(&|c| (c.widths, c.seeds) = (vec![256, 512, 1024, 2048], 1000), "seeds"); // days of work
    for v in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e300] {
        bad(&|c| c.p0 = v, "p0");
        bad(&|c| c.memory_budget_gb = v, "memory_budget_gb");
    }
    for v in [1.5, -1.01, f64::NAN, f64::NEG_INFINITY] {
        bad(&|c| c.e0 = v, "e0");
    }
    bad(&|c| c.table_depths = vec![0], "table_depths");
    bad(&|c| c.table_depths = vec![10, 101], "table_depths");
    bad(&|c| c.table_depths = vec![1; 65], "table_depths");
    bad(&|c| c.cases.clear(), "cases");
    bad(&|c| c.cases = vec![c.cases[0].clone(); 17], "cases");
    bad(&|c| c.cases[1].name = c.cases[0].name.clone(), "cases[1].name");
    for name in ["", "a/b", "../x", "width", "frn tanh", &"x".repeat(65)] {
        bad(&|c| c.cases[0].name = name.into(), "cases[0].name");
    }
    bad(&|c| c.cases[0].arch = Architecture::Vanilla, "cases[0].arch");
    bad(&|c| c.cases[2].alpha = None, "cases[2].alpha");
    for a in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
        bad(&|c| c.cases[2].alpha = Some(a), "cases[2].alpha");
    }
    bad(&|c| c.cases[0].alpha = Some(0.5), "cases[0].alpha");
    for v in [-1.0, f64::NAN, f64::INFINITY, 1e7] {
        bad(&|c| c.cases[3].sw2 = v, "cases[3].sw2");
        bad(&|c| c.cases[0].sv2 = v, "cases[0].sv2");
        bad(&|c| c.cases[1].sb2 = v, "cases[1].sb2");
        bad(&|c| c.cases[2].sa2 = v, "cases[2].sa2");
    }
    let e = Config { seeds: 1, ..Config::default() }.check().unwrap_err().to_string();
    assert_eq!(e, "[simulations] seeds = 1 is invalid (valid: an integer from 2 to 1000)");
    // The same values through the stage constructor.
    assert!(Simulations::new(Config { depth: 0, ..Config::default() }).is_err());
    // Extreme values that are valid.
    let ok = Config { widths: vec![2, 3], depth: 1, seeds: 2, table_depths: vec![], e0: -1.0, ..Config::default() };
    ok.check().unwrap();
}

/// The memory estimate saturates instead of overflowing on absurd sizes.
#[test]
fn network_bytes_saturate() {
    use super::config::network_bytes;
    assert_eq!(network_bytes(Architecture::Full, usize::MAX, usize::MAX), usize::MAX);
    assert_eq!(network_bytes(Architecture::Reduced, 1 << 40, 1 << 40), usize::MAX);
}
