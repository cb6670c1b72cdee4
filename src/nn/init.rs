//! Initialization (docs/theory.md §1, conventions of `torch_resnet.py`):
//! $E_{ij} \sim \mathcal{N}(0, 1/d)$, $e = 0$; per block $W_{ij} \sim \mathcal{N}(0, \sigma_w^2/N)$,
//! $b_i \sim \mathcal{N}(0, \sigma_b^2)$, and for FRN $V_{ij} \sim \mathcal{N}(0, \sigma_v^2/N)$,
//! $a_i \sim \mathcal{N}(0, \sigma_a^2)$; $R_{ij} \sim \mathcal{N}(0, 1/N)$, $r = 0$.
//!
//! Draws come from `ChaCha8Rng::seed_from_u64(seed)` in `f64` (standard normals by
//! `rand_distr::StandardNormal`), in storage order: $E$ row by row, then block 1 ($W$, $b$, $V$,
//! $a$), block 2, ..., then $R$. The draws happen on one thread and do not depend on the float type,
//! so a `(seed, spec)` pair gives the same weights on every machine and thread count, and the `f32`
//! model is the `f64` one rounded. Every block tensor consumes its standard normals even when its
//! variance is 0 (it is then 0 times the draw): the weights at two grid points with the same seed
//! are the same standard normals scaled differently (common random numbers across the grid).

use super::model::{ModelError, ModelSpec, Params};
use super::scalar::Scalar;
use crate::architecture::Architecture;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A freshly initialized network.
pub fn init<T: Scalar>(spec: &ModelSpec, seed: u64) -> Result<Params<T>, ModelError> {
    spec.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut p = Params::<T>::zeros(spec);
    let n = spec.width as f64;
    let fill = |dst: &mut [T], var: f64, rng: &mut ChaCha8Rng| {
        let sd = var.sqrt();
        for x in dst.iter_mut() {
            let z: f64 = StandardNormal.sample(rng);
            *x = T::of(sd * z);
        }
    };
    if let Some(d) = spec.input_dim {
        let (w, _e) = p.embed_mut().expect("layout has an embedding");
        fill(w, 1.0 / d as f64, &mut rng);
    }
    for i in 0..spec.depth {
        let blk = p.block_mut(i);
        fill(blk.w, spec.sw2 / n, &mut rng);
        fill(blk.b, spec.sb2, &mut rng);
        if spec.arch == Architecture::Full {
            fill(blk.v, spec.sv2 / n, &mut rng);
            fill(blk.a, spec.sa2, &mut rng);
        }
    }
    if spec.output_dim.is_some() {
        let (r, _b) = p.readout_mut().expect("layout has a readout");
        fill(r, 1.0 / n, &mut rng);
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;

    fn moments(x: &[f64]) -> (f64, f64) {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        let v = x.iter().map(|y| (y - m) * (y - m)).sum::<f64>() / (x.len() - 1) as f64;
        (m, v)
    }

    #[test]
    fn variances_follow_the_spec() {
        let spec = ModelSpec::mnist(Architecture::Full, Activation::Tanh, 64, 3, 1.7, 0.4, 0.3, 0.2);
        let p = init::<f64>(&spec, 11).unwrap();
        // Sample variance of n iid N(0, s2) has sd s2 sqrt(2/(n-1)); allow 5 sd.
        let check = |x: &[f64], s2: f64, what: &str| {
            let (m, v) = moments(x);
            let tol = 5.0 * s2 * (2.0 / (x.len() - 1) as f64).sqrt();
            assert!((v - s2).abs() < tol, "{what}: variance {v} vs {s2}");
            assert!(m.abs() < 5.0 * (s2 / x.len() as f64).sqrt(), "{what}: mean {m}");
        };
        check(p.embed_w().unwrap(), 1.0 / 784.0, "E");
        assert!(p.embed_b().unwrap().iter().all(|&x| x == 0.0));
        let (mut w, mut b, mut v, mut a) = (vec![], vec![], vec![], vec![]);
        for i in 0..3 {
            let blk = p.block(i);
            w.extend_from_slice(blk.w);
            b.extend_from_slice(blk.b);
            v.extend_from_slice(blk.v);
            a.extend_from_slice(blk.a);
        }
        check(&w, 1.7 / 64.0, "W");
        check(&v, 0.4 / 64.0, "V");
        check(&b, 0.3, "b");
        check(&a, 0.2, "a");
        check(p.readout_w().unwrap(), 1.0 / 64.0, "R");
        assert!(p.readout_b().unwrap().iter().all(|&x| x == 0.0));
    }

    #[test]
    fn same_seed_same_weights_and_f32_is_rounded_f64() {
        let spec = ModelSpec::trunk(Architecture::Reduced, Activation::Relu, 8, 2, 2.0, 0.0, 0.1, 0.0);
        let a = init::<f64>(&spec, 5).unwrap();
        let b = init::<f64>(&spec, 5).unwrap();
        let c = init::<f64>(&spec, 6).unwrap();
        let f = init::<f32>(&spec, 5).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        for (x, y) in a.as_slice().iter().zip(f.as_slice()) {
            assert_eq!(*x as f32, *y);
        }
        // Seeded from rand_chacha's ChaCha8: the first weight is sd * (first standard normal).
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let z: f64 = StandardNormal.sample(&mut rng);
        assert_eq!(a.block(0).w[0], (2.0f64 / 8.0).sqrt() * z);
    }

    #[test]
    fn common_random_numbers_across_variances() {
        let s1 = ModelSpec::trunk(Architecture::Full, Activation::Tanh, 4, 2, 1.0, 0.5, 0.0, 0.0);
        let s2 = ModelSpec { sv2: 2.0, sb2: 0.3, ..s1.clone() };
        let p1 = init::<f64>(&s1, 3).unwrap();
        let p2 = init::<f64>(&s2, 3).unwrap();
        for i in 0..2 {
            assert_eq!(p1.block(i).w, p2.block(i).w);
            for (x, y) in p1.block(i).v.iter().zip(p2.block(i).v) {
                assert!((y - 2.0 * x).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn bad_spec_is_an_error() {
        let mut spec = ModelSpec::trunk(Architecture::Full, Activation::Tanh, 4, 2, 1.0, -0.5, 0.0, 0.0);
        assert_eq!(init::<f64>(&spec, 0).unwrap_err(), ModelError::Variance { name: "sv2", value: -0.5 });
        spec.sv2 = 1.0;
        spec.width = 0;
        assert_eq!(init::<f64>(&spec, 0).unwrap_err(), ModelError::Width(0));
    }
}
