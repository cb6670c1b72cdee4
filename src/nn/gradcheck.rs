//! Gradient checks: backpropagation against central finite differences in `f64`, for every
//! architecture and activation, on small random networks (tests only).

#![allow(clippy::needless_range_loop)]

use super::*;
use crate::activation::Activation;
use crate::architecture::Architecture;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ARCHS: [Architecture; 3] = [Architecture::Vanilla, Architecture::Reduced, Architecture::Full];

fn acts() -> Vec<Activation> {
    vec![
        Activation::Tanh,
        Activation::Relu,
        Activation::AlphaRelu { alpha: 0.75 },
        Activation::AlphaRelu { alpha: 1.5 },
        Activation::Erf,
    ]
}

/// Fourth-order central difference $[8(f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))]/(12h)$.
fn central_diff(mut f: impl FnMut(f64) -> f64, h: f64) -> f64 {
    (8.0 * (f(h) - f(-h)) - (f(2.0 * h) - f(-2.0 * h))) / (12.0 * h)
}

/// Relative error of `g` against `fd`: $|g - fd| / \max(|g|, |fd|, 10^{-4}\max_j|g_j|)$, maximum
/// over entries.
fn max_rel_err(g: &[f64], fd: &[f64]) -> f64 {
    let scale = g.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    g.iter()
        .zip(fd)
        .map(|(a, b)| (a - b).abs() / a.abs().max(b.abs()).max(1e-4 * scale).max(1e-300))
        .fold(0.0, f64::max)
}

/// Smallest |pre-activation| of the last forward pass (h^l for FRN, x^{l-1} otherwise).
fn min_abs_preact(tape: &Tape<f64>) -> f64 {
    let mut m = f64::INFINITY;
    for l in 1..=tape.depth() {
        let pre = if tape.spec().arch == Architecture::Full { tape.h(l) } else { tape.x(l - 1) };
        m = pre.iter().fold(m, |m, x| m.min(x.abs()));
    }
    m
}

fn is_kinked(act: Activation) -> bool {
    matches!(act, Activation::Relu | Activation::AlphaRelu { .. })
}

/// Mean cross-entropy of the full model on (u, labels).
fn xent(params: &Params<f64>, tape: &mut Tape<f64>, u: &[f64], labels: &[u8]) -> f64 {
    tape.input_mut(labels.len()).unwrap().copy_from_slice(u);
    forward(params, tape).unwrap();
    softmax_xent(tape, labels, None).unwrap().loss_sum / labels.len() as f64
}

/// E = sum(c * x^L) of a trunk-only model on x^0.
fn trunk_energy(params: &Params<f64>, tape: &mut Tape<f64>, x0: &[f64], c: &[f64], batch: usize) -> f64 {
    tape.input_mut(batch).unwrap().copy_from_slice(x0);
    forward(params, tape).unwrap();
    tape.output().iter().zip(c).map(|(a, b)| a * b).sum()
}

const N: usize = 4;
const L: usize = 3;
const B: usize = 3;
const D: usize = 5;
const K: usize = 3;
const H: f64 = 1e-4;
const TOL: f64 = 1e-6;

fn spec_for(arch: Architecture, act: Activation, embed: bool) -> ModelSpec {
    let mut s = ModelSpec::trunk(arch, act, N, L, 1.5, 1.0, 0.2, 0.1);
    if embed {
        s.input_dim = Some(D);
        s.output_dim = Some(K);
    }
    s
}

/// Every sample has an active unit (pre-activation > 0) in every layer: the gradient reaches the
/// first block.
fn all_layers_active(tape: &Tape<f64>) -> bool {
    (1..=tape.depth()).all(|l| {
        let pre = if tape.spec().arch == Architecture::Full { tape.h(l) } else { tape.x(l - 1) };
        pre.chunks_exact(tape.width()).all(|s| s.iter().any(|&x| x > 0.0))
    })
}

/// Draws seeds until, for the kinked activations, no pre-activation is within 0.05 of the kink
/// (finite differences of step <= 2e-4 then never cross it) and no layer is dead.
fn find_smooth_point(spec: &ModelSpec, in_dim: usize) -> (Params<f64>, Vec<f64>) {
    let act = spec.act;
    let mut tape = Tape::<f64>::new(spec, B, TapeMode::Train, Par::Seq);
    for seed in 0..10_000u64 {
        let params = init::<f64>(spec, seed).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
        let u: Vec<f64> = (0..in_dim * B).map(|_| rng.random_range(-1.5..1.5)).collect();
        tape.input_mut(B).unwrap().copy_from_slice(&u);
        forward(&params, &mut tape).unwrap();
        if !is_kinked(act) || (min_abs_preact(&tape) > 0.05 && all_layers_active(&tape)) {
            return (params, u);
        }
    }
    panic!("no smooth point found for {act}");
}

#[test]
fn parameter_gradients_match_finite_differences_full_model() {
    let labels = [2u8, 0, 1];
    for arch in ARCHS {
        for act in acts() {
            let spec = spec_for(arch, act, true);
            let (params, u) = find_smooth_point(&spec, D);
            let mut tape = Tape::<f64>::new(&spec, B, TapeMode::Train, Par::Seq);
            tape.input_mut(B).unwrap().copy_from_slice(&u);
            forward(&params, &mut tape).unwrap();
            softmax_xent(&mut tape, &labels, Some(1.0 / B as f64)).unwrap();
            let mut grads = params.zeros_like();
            backward(&params, &mut tape, &mut grads).unwrap();

            let mut p = params.clone();
            let mut fd = vec![0.0; p.as_slice().len()];
            let mut ftape = Tape::<f64>::new(&spec, B, TapeMode::Inference, Par::Seq);
            for i in 0..fd.len() {
                let x0 = params.as_slice()[i];
                fd[i] = central_diff(
                    |dh| {
                        p.as_mut_slice()[i] = x0 + dh;
                        xent(&p, &mut ftape, &u, &labels)
                    },
                    H,
                );
                p.as_mut_slice()[i] = x0;
            }
            let err = max_rel_err(grads.as_slice(), &fd);
            assert!(err < TOL, "{arch} {act}: max relative error {err:e}");
            // The first block's gradient is not identically zero (the check is not vacuous).
            assert!(grads.block(0).w.iter().any(|&g| g.abs() > 1e-12), "{arch} {act}");
        }
    }
}

#[test]
fn trunk_gradients_match_finite_differences_at_every_layer() {
    for arch in ARCHS {
        for act in acts() {
            let spec = spec_for(arch, act, false);
            let (params, x0) = find_smooth_point(&spec, N);
            let mut rng = ChaCha8Rng::seed_from_u64(77);
            let c: Vec<f64> = (0..N * B).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut tape = Tape::<f64>::new(&spec, B, TapeMode::Full, Par::Seq);
            tape.input_mut(B).unwrap().copy_from_slice(&x0);
            forward(&params, &mut tape).unwrap();
            tape.output_grad_mut().unwrap().copy_from_slice(&c);
            let mut grads = params.zeros_like();
            backward(&params, &mut tape, &mut grads).unwrap();

            // Weight gradients.
            let mut p = params.clone();
            let mut ftape = Tape::<f64>::new(&spec, B, TapeMode::Inference, Par::Seq);
            let mut fd = vec![0.0; p.as_slice().len()];
            for i in 0..fd.len() {
                let v = params.as_slice()[i];
                fd[i] = central_diff(
                    |dh| {
                        p.as_mut_slice()[i] = v + dh;
                        trunk_energy(&p, &mut ftape, &x0, &c, B)
                    },
                    H,
                );
                p.as_mut_slice()[i] = v;
            }
            let err = max_rel_err(grads.as_slice(), &fd);
            assert!(err < TOL, "{arch} {act} weights: max relative error {err:e}");

            // dE/dx^l for every l: the sub-trunk of blocks l+1..L acting on x^l.
            for l in 0..=L {
                let sub_spec = ModelSpec { depth: L - l, ..spec.clone() };
                let mut sub = Params::<f64>::zeros(&sub_spec);
                let blen = params.as_slice().len() / L;
                sub.as_mut_slice().copy_from_slice(&params.as_slice()[l * blen..]);
                let xl: Vec<f64> = tape.x(l).to_vec();
                let mut stape = Tape::<f64>::new(&sub_spec, B, TapeMode::Inference, Par::Seq);
                let mut xv = xl.clone();
                let mut fdx = vec![0.0; xl.len()];
                for i in 0..xl.len() {
                    fdx[i] = central_diff(
                        |dh| {
                            xv[i] = xl[i] + dh;
                            trunk_energy(&sub, &mut stape, &xv, &c, B)
                        },
                        H,
                    );
                    xv[i] = xl[i];
                }
                let err = max_rel_err(tape.dx(l), &fdx);
                assert!(err < TOL, "{arch} {act} dE/dx^{l}: max relative error {err:e}");
            }
        }
    }
}

#[test]
fn f32_and_f64_passes_agree() {
    for arch in ARCHS {
        for act in acts() {
            let spec = ModelSpec::mnist(arch, act, 16, 4, 1.2, 0.8, 0.05, 0.05);
            let p64 = init::<f64>(&spec, 9).unwrap();
            let p32: Params<f32> = p64.cast();
            let mut rng = ChaCha8Rng::seed_from_u64(4);
            let u: Vec<f64> = (0..784 * 5).map(|_| rng.random_range(-0.5..2.5)).collect();
            let labels = [1u8, 7, 3, 9, 0];
            let mut t64 = Tape::<f64>::new(&spec, 5, TapeMode::Train, Par::Seq);
            let mut t32 = Tape::<f32>::new(&spec, 5, TapeMode::Train, Par::Seq);
            t64.input_mut(5).unwrap().copy_from_slice(&u);
            for (a, b) in t32.input_mut(5).unwrap().iter_mut().zip(&u) {
                *a = *b as f32;
            }
            forward(&p64, &mut t64).unwrap();
            forward(&p32, &mut t32).unwrap();
            let l64 = softmax_xent(&mut t64, &labels, Some(0.2)).unwrap();
            let l32 = softmax_xent(&mut t32, &labels, Some(0.2)).unwrap();
            assert!((l64.loss_sum - l32.loss_sum).abs() < 1e-4 * l64.loss_sum.abs().max(1.0), "{arch} {act}");
            let mut g64 = p64.zeros_like();
            let mut g32 = p32.zeros_like();
            backward(&p64, &mut t64, &mut g64).unwrap();
            backward(&p32, &mut t32, &mut g32).unwrap();
            let num: f64 = g64.as_slice().iter().zip(g32.as_slice()).map(|(a, &b)| (a - b as f64).powi(2)).sum();
            let rel = num.sqrt() / g64.norm();
            // Kinked activations can flip a unit whose pre-activation is within f32 rounding of 0.
            assert!(rel < 1e-3, "{arch} {act}: relative gradient difference {rel:e}");
        }
    }
}

#[test]
fn split_batches_sum_to_the_whole_batch_gradient() {
    let spec = ModelSpec::mnist(Architecture::Full, Activation::Tanh, 8, 3, 1.0, 0.5, 0.1, 0.1);
    let p = init::<f64>(&spec, 2).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let u: Vec<f64> = (0..784 * 6).map(|_| rng.random_range(-0.5..2.5)).collect();
    let labels = [1u8, 7, 3, 9, 0, 4];
    let mut whole = Tape::<f64>::new(&spec, 6, TapeMode::Train, Par::Seq);
    whole.input_mut(6).unwrap().copy_from_slice(&u);
    forward(&p, &mut whole).unwrap();
    softmax_xent(&mut whole, &labels, Some(1.0 / 6.0)).unwrap();
    let mut gw = p.zeros_like();
    backward(&p, &mut whole, &mut gw).unwrap();
    let mut sum = p.zeros_like();
    let mut half = Tape::<f64>::new(&spec, 4, TapeMode::Train, Par::Seq);
    let mut gh = p.zeros_like();
    for (lo, hi) in [(0, 4), (4, 6)] {
        half.input_mut(hi - lo).unwrap().copy_from_slice(&u[lo * 784..hi * 784]);
        forward(&p, &mut half).unwrap();
        softmax_xent(&mut half, &labels[lo..hi], Some(1.0 / 6.0)).unwrap();
        backward(&p, &mut half, &mut gh).unwrap();
        scalar::add_assign(sum.as_mut_slice(), gh.as_slice());
    }
    for (a, b) in gw.as_slice().iter().zip(sum.as_slice()) {
        assert!((a - b).abs() < 1e-13 * (1.0 + a.abs()));
    }
}

#[test]
fn tape_rejects_bad_batches_and_modes() {
    let spec = ModelSpec::trunk(Architecture::Full, Activation::Tanh, 4, 2, 1.0, 1.0, 0.0, 0.0);
    let mut t = Tape::<f64>::new(&spec, 3, TapeMode::Inference, Par::Seq);
    assert_eq!(t.input_mut(4).unwrap_err(), TapeError::Batch { batch: 4, cap: 3 });
    assert_eq!(t.input_mut(0).unwrap_err(), TapeError::Batch { batch: 0, cap: 3 });
    let p = init::<f64>(&spec, 0).unwrap();
    t.input_mut(2).unwrap().fill(0.5);
    forward(&p, &mut t).unwrap();
    let mut g = p.zeros_like();
    assert_eq!(backward(&p, &mut t, &mut g).unwrap_err(), TapeError::Mode(TapeMode::Inference));
    let other = init::<f64>(&ModelSpec { depth: 3, ..spec.clone() }, 0).unwrap();
    assert_eq!(forward(&other, &mut t).unwrap_err(), TapeError::Layout);
}

#[test]
fn backward_from_top_equals_the_trunk_gradient() {
    // A model with embedding and readout, backpropagated from x^L, gives the same block gradients
    // and dE/dx^l as the trunk alone with the same blocks and the same x^0.
    let spec = ModelSpec::mnist(Architecture::Full, Activation::Tanh, 6, 3, 1.3, 0.7, 0.1, 0.1);
    let p = init::<f64>(&spec, 21).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let u: Vec<f64> = (0..784 * 2).map(|_| rng.random_range(-0.5..2.5)).collect();
    let c: Vec<f64> = (0..6 * 2).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut t = Tape::<f64>::new(&spec, 2, TapeMode::Full, Par::Seq);
    t.input_mut(2).unwrap().copy_from_slice(&u);
    forward(&p, &mut t).unwrap();
    t.top_grad_mut().unwrap().copy_from_slice(&c);
    let mut g = p.zeros_like();
    backward_from_top(&p, &mut t, &mut g).unwrap();
    assert!(g.readout_w().unwrap().iter().all(|&x| x == 0.0));

    let tspec = ModelSpec { input_dim: None, output_dim: None, ..spec.clone() };
    let mut tp = Params::<f64>::zeros(&tspec);
    for i in 0..3 {
        let src = p.block(i);
        let dst = tp.block_mut(i);
        dst.w.copy_from_slice(src.w);
        dst.b.copy_from_slice(src.b);
        dst.v.copy_from_slice(src.v);
        dst.a.copy_from_slice(src.a);
    }
    let mut tt = Tape::<f64>::new(&tspec, 2, TapeMode::Full, Par::Seq);
    tt.input_mut(2).unwrap().copy_from_slice(t.x(0));
    forward(&tp, &mut tt).unwrap();
    tt.output_grad_mut().unwrap().copy_from_slice(&c);
    let mut tg = tp.zeros_like();
    backward(&tp, &mut tt, &mut tg).unwrap();
    for l in 0..=3 {
        assert_eq!(t.x(l), tt.x(l));
        assert_eq!(t.dx(l), tt.dx(l));
    }
    for i in 0..3 {
        assert_eq!(g.block(i).w, tg.block(i).w);
        assert_eq!(g.block(i).v, tg.block(i).v);
        assert_eq!(g.block(i).a, tg.block(i).a);
    }
}
