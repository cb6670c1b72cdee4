//! Benchmarks of the mean-field engine: the FRN tanh recurrence at depth 1e5 (tabulated
//! quadrature kernel; issue target < 5 s) and the alpha-ReLU recurrence at depth 1e6 (closed-form
//! kernel; target < 2 s). Run with `cargo bench --bench meanfield`.

use criterion::{criterion_group, criterion_main, Criterion};
use edge_of_chaos::activation::Activation;
use edge_of_chaos::architecture::Architecture;
use edge_of_chaos::meanfield::{trajectory, Sampling, Spec, Variances};
use std::time::Duration;

fn spec(act: Activation) -> Spec {
    Spec { arch: Architecture::Full, act, var: Variances::weights(1.0, 1.0), p0: 1.0, e0: 0.5 }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("meanfield");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    // The tanh table is process-wide and lazily built; the first iteration includes building it.
    g.bench_function("frn_tanh_depth_1e5", |b| {
        b.iter(|| trajectory(&spec(Activation::Tanh), 100_000, &Sampling::Last).expect("runs"))
    });
    g.bench_function("frn_alpha_relu_0.75_depth_1e6", |b| {
        b.iter(|| trajectory(&spec(Activation::AlphaRelu { alpha: 0.75 }), 1_000_000, &Sampling::Last).expect("runs"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
