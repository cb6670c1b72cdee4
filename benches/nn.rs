//! Benchmarks of the network core (run with `cargo bench --bench nn`):
//! - one forward+backward step of the reference FRN (tanh, N = 128, L = 20, batch 128, f32),
//!   and the training loop's step (forward, loss, backward, update) on one and two threads;
//! - a grid-shaped workload: two FRN tanh networks of depth 50 trained concurrently, one per
//!   thread of a 2-thread pool, as the training stage runs its points (`grid` group);
//! - the layer products on the AVX-512 kernel and through faer side by side (`product` group:
//!   128^3 hot and over 200 layers whose operands do not stay in cache, 512^3, 1024^3; criterion's
//!   throughput "elem/s" counts floating-point operations, so Gelem/s = GFLOP/s);
//! - `cargo bench --bench nn -- train-reference [THREADS] [REPEATS]`: whole training runs of the
//!   reference configuration of `torch_resnet.py` (10000 images, 1 epoch), printing samples/s in
//!   the same definition (training loop only) for the comparison with PyTorch (with
//!   `EOC_WAIT_QUIET=S`, each run first waits up to S seconds for the machine to be idle);
//! - `-- quick`: only the quick timings; `-- breakdown`: per-operation timings; `-- transition`:
//!   the cost of legacy-SSE code right after a faer product; `-- profile-forward`,
//!   `-- profile-backward`, `-- profile-train`: loops to run under `perf`.

use criterion::{black_box, Criterion, Throughput};
use edge_of_chaos::nn::matmul;
use edge_of_chaos::nn::mnist::{resolve_dir, Mnist};
use edge_of_chaos::nn::sgd::sgd_step;
use edge_of_chaos::nn::train::{train, TrainConfig};
use edge_of_chaos::nn::{backward, forward, init, softmax_xent, ModelSpec, Params, Tape, TapeMode};
use edge_of_chaos::{Activation, Architecture};
use faer::Par;
use std::time::Instant;

const N: usize = 128;
const L: usize = 20;
const B: usize = 128;

fn reference_spec() -> ModelSpec {
    ModelSpec::mnist(Architecture::Full, Activation::Tanh, N, L, 1.0, 0.1, 0.0, 0.0)
}

struct Step {
    params: Params<f32>,
    tape: Tape<f32>,
    grads: Params<f32>,
    labels: Vec<u8>,
}

impl Step {
    fn new(batch: usize) -> Self {
        let spec = reference_spec();
        let params = init::<f32>(&spec, 0).unwrap();
        let mut tape = Tape::new(&spec, batch, TapeMode::Train, Par::Seq);
        for (i, x) in tape.input_mut(batch).unwrap().iter_mut().enumerate() {
            *x = ((i * 7919) % 255) as f32 / 255.0 - 0.4;
        }
        let labels = (0..batch).map(|i| (i % 10) as u8).collect();
        let grads = params.zeros_like();
        Self { params, tape, grads, labels }
    }

    fn run(&mut self, scale: f64) -> f64 {
        forward(&self.params, &mut self.tape).unwrap();
        let r = softmax_xent(&mut self.tape, &self.labels, Some(scale)).unwrap();
        backward(&self.params, &mut self.tape, &mut self.grads).unwrap();
        r.loss_sum
    }
}

/// One SGD step of the training loop (whole-batch tape, column ranges over `threads` threads,
/// fused update), on synthetic inputs; learning rate 0 keeps the parameters fixed.
struct TrainStep {
    params: Params<f32>,
    tape: Tape<f32>,
    input: Vec<f32>,
    labels: Vec<u8>,
}

impl TrainStep {
    fn new(spec: &ModelSpec, batch: usize) -> Self {
        let params = init::<f32>(spec, 0).unwrap();
        let tape = Tape::for_training(spec, batch, Par::Seq);
        let d = spec.in_dim();
        let input = (0..batch * d).map(|i| ((i * 7919) % 255) as f32 / 255.0 - 0.4).collect();
        let labels = (0..batch).map(|i| (i % 10) as u8).collect();
        Self { params, tape, input, labels }
    }

    fn run(&mut self, threads: usize) -> f64 {
        let b = self.labels.len();
        let d = self.input.len() / b;
        let input = &self.input;
        let fill = |c0: usize, c1: usize, dst: &mut [f32]| dst.copy_from_slice(&input[c0 * d..c1 * d]);
        let (r, _) =
            sgd_step(&mut self.params, &mut self.tape, b, &self.labels, 0.0, threads, Par::Seq, &fill, |_| true)
                .unwrap();
        r.loss_sum
    }
}

/// Multiply-adds of one training step (forward, backward data and weight products; the embedding's
/// input gradient is not computed).
fn step_flops(batch: usize) -> u64 {
    batch as u64 * reference_spec().train_flops_per_sample() as u64
}

fn gflops(flops: u64, secs: f64) -> f64 {
    flops as f64 / secs / 1e9
}

/// Median wall time of `f` over `reps` runs (after one warm-up).
fn time<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[reps / 2]
}

fn quick_report() {
    println!("== quick timings (median) ==");
    // Training step, sequential.
    let mut s = Step::new(B);
    let t = time(50, || {
        black_box(s.run(1.0 / B as f64));
    });
    println!(
        "FRN step N={N} L={L} batch={B} f32, 1 thread: {:.3} ms, {:.0} samples/s, {:.1} GFLOP/s",
        t * 1e3,
        B as f64 / t,
        gflops(step_flops(B), t)
    );
    // The training loop's step (whole batch, fused update) on 1 and 2 threads.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for threads in [1, 2] {
        let mut st = TrainStep::new(&reference_spec(), B);
        let t = pool.install(|| {
            time(50, || {
                black_box(st.run(threads));
            })
        });
        println!(
            "FRN training step (fused update), {threads} thread(s): {:.3} ms, {:.0} samples/s, {:.1} GFLOP/s",
            t * 1e3,
            B as f64 / t,
            gflops(step_flops(B), t)
        );
    }
    // The grid-shaped workload: two depth-50 networks, one per thread.
    let mut pair = GridPair::new();
    let t = time(30, || {
        black_box(pair.run());
    });
    println!(
        "grid-shaped: two FRN tanh depth 50 networks, one step each, one per thread: {:.3} ms, {:.1} GFLOP/s",
        t * 1e3,
        gflops(GridPair::flops(), t)
    );
    // One step with faer's own parallel products.
    let mut s3 = Step::new(B);
    s3.tape.set_par(Par::rayon(2));
    let t = pool.install(|| {
        time(50, || {
            black_box(s3.run(1.0 / B as f64));
        })
    });
    println!(
        "FRN step, faer Par::rayon(2) products: {:.3} ms, {:.0} samples/s, {:.1} GFLOP/s",
        t * 1e3,
        B as f64 / t,
        gflops(step_flops(B), t)
    );
    // Raw products.
    for (m, k, n, reps) in [(128, 128, 128, 2000), (128, 128, 64, 2000), (128, 784, 128, 500), (1024, 1024, 1024, 10)] {
        let a = vec![0.5f32; m * k];
        let x = vec![0.25f32; k * n];
        let mut y = vec![0.0f32; m * n];
        let t = time(reps, || matmul::forward(&mut y, false, &a, &x, k, m, n, Par::Seq));
        let flops = 2 * (m * k * n) as u64;
        print!("product {m}x{k} * {k}x{n} f32: seq {:.1} GFLOP/s", gflops(flops, t));
        let t = pool.install(|| time(reps, || matmul::forward(&mut y, false, &a, &x, k, m, n, Par::rayon(2))));
        println!(", Par::rayon(2) {:.1} GFLOP/s", gflops(flops, t));
    }
}

/// The grid-shaped workload: FRN tanh, N = 128, depth 50, batch 128, two networks trained
/// concurrently (one step of each per iteration), one per thread of a 2-thread pool, as the
/// training stage runs grid points.
fn grid_spec() -> ModelSpec {
    ModelSpec::mnist(Architecture::Full, Activation::Tanh, N, 50, 1.0, 0.1, 0.0, 0.0)
}

struct GridPair {
    a: TrainStep,
    b: TrainStep,
    pool: rayon::ThreadPool,
}

impl GridPair {
    fn new() -> Self {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        Self { a: TrainStep::new(&grid_spec(), B), b: TrainStep::new(&grid_spec(), B), pool }
    }

    fn run(&mut self) -> f64 {
        let (a, b) = (&mut self.a, &mut self.b);
        let (x, y) = self.pool.install(|| rayon::join(|| a.run(1), || b.run(1)));
        x + y
    }

    fn flops() -> u64 {
        2 * B as u64 * grid_spec().train_flops_per_sample() as u64
    }
}

fn criterion_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("grid");
    g.throughput(Throughput::Elements(GridPair::flops()));
    let mut pair = GridPair::new();
    g.bench_function("two_frn_tanh_depth50_b128_concurrent_2threads", |b| b.iter(|| black_box(pair.run())));
    g.finish();

    let mut g = c.benchmark_group("frn_step");
    g.throughput(Throughput::Elements(step_flops(B)));
    let mut s = Step::new(B);
    g.bench_function("fwd_bwd_n128_l20_b128_f32_seq", |b| b.iter(|| black_box(s.run(1.0 / B as f64))));
    g.finish();

    // The layer products on the AVX-512 kernel (where the CPU has it) and through faer, side by
    // side; `cold` cycles through 200 weight matrices and their operands (38 MB, more than the
    // L3 cache), as the layers of a deep network do.
    let mut g = c.benchmark_group("product");
    for (m, k, n) in [(128usize, 128usize, 128usize), (512, 512, 512), (1024, 1024, 1024)] {
        g.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        let a = vec![0.5f32; m * k];
        let x = vec![0.25f32; k * n];
        let mut y = vec![0.0f32; m * n];
        let dy = vec![0.1f32; m * n];
        let mut dw = vec![0.0f32; m * k];
        for (engine, faer_only) in [("kernel", false), ("faer", true)] {
            let on = |f: &mut dyn FnMut()| if faer_only { matmul::with_faer_only(f) } else { f() };
            g.bench_function(format!("{m}x{k}x{n}_forward_{engine}"), |b| {
                b.iter(|| on(&mut || matmul::forward(&mut y, false, &a, black_box(&x), k, m, n, Par::Seq)))
            });
            if m == 128 {
                g.bench_function(format!("{m}x{k}x{n}_weight_grad_{engine}"), |b| {
                    b.iter(|| on(&mut || matmul::backward_weight(&mut dw, black_box(&dy), &x, k, m, n, Par::Seq)))
                });
                let mut cold = ColdLayers::new(200);
                g.throughput(Throughput::Elements(cold.flops()));
                g.bench_function(format!("{m}x{k}x{n}_cold_layers_fwd_bwd_{engine}"), |b| {
                    b.iter(|| on(&mut || cold.run()))
                });
                g.throughput(Throughput::Elements(2 * (m * k * n) as u64));
            }
        }
    }
    g.finish();
}

/// The forward and input-gradient products of `count` independent 128 x 128 layers (batch 128),
/// one after the other: operands that do not stay in cache, as in a deep network.
struct ColdLayers {
    w: Vec<Vec<f32>>,
    x: Vec<Vec<f32>>,
    y: Vec<Vec<f32>>,
}

impl ColdLayers {
    fn new(count: usize) -> Self {
        let m = |s: usize| (0..count).map(|q| (0..N * B).map(|i| ((i * s + q) % 17) as f32 * 0.01).collect()).collect();
        ColdLayers { w: m(3), x: m(5), y: m(7) }
    }
    fn flops(&self) -> u64 {
        2 * 2 * (N * N * B * self.w.len()) as u64
    }
    fn run(&mut self) {
        for q in 0..self.w.len() {
            matmul::forward(&mut self.y[q], true, &self.w[q], &self.x[q], N, N, B, Par::Seq);
            matmul::backward_input(&mut self.x[q], true, &self.w[q], &self.y[q], N, N, B, Par::Seq);
        }
    }
}

/// (total, idle) jiffies over all CPUs from /proc/stat.
fn proc_stat() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<u64> = text.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    Some((v.iter().take(8).sum(), v[3] + v[4]))
}

/// Busy cores (all processes) over the interval between two samples.
fn busy_cores(a: (u64, u64), b: (u64, u64)) -> f64 {
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let (total, idle) = ((b.0 - a.0) as f64, (b.1 - a.1) as f64);
    if total <= 0.0 {
        return 0.0;
    }
    ncpu * (1.0 - idle / total)
}

/// CPU seconds used by this process so far (utime + stime from /proc/self/stat).
fn own_cpu_s() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Waits (up to `max_s`) until the machine uses < 0.2 cores over a 1 s probe; returns the waited s.
fn wait_quiet(max_s: f64) -> f64 {
    let t0 = Instant::now();
    loop {
        let (Some(a), _) = (proc_stat(), ()) else { return 0.0 };
        std::thread::sleep(std::time::Duration::from_secs(1));
        let Some(b) = proc_stat() else { return 0.0 };
        if busy_cores(a, b) < 0.2 || t0.elapsed().as_secs_f64() >= max_s {
            return t0.elapsed().as_secs_f64();
        }
    }
}

fn train_reference(threads: usize, repeats: usize) {
    let data = Mnist::load(&resolve_dir(None)).expect("MNIST loads");
    let cfg = TrainConfig { train_subset: Some(10_000), threads, ..TrainConfig::default() };
    let mut rates = Vec::new();
    let max_wait: f64 = std::env::var("EOC_WAIT_QUIET").ok().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    for _ in 0..repeats {
        let waited = if max_wait > 0.0 { wait_quiet(max_wait) } else { 0.0 };
        let (a, c0, t0) = (proc_stat(), own_cpu_s(), Instant::now());
        let r = train(&cfg, &data, &mut |_| {}).expect("valid config");
        let wall = t0.elapsed().as_secs_f64();
        let own = c0.zip(own_cpu_s()).map_or(f64::NAN, |(a, b)| (b - a) / wall);
        let busy = a.zip(proc_stat()).map(|(a, b)| busy_cores(a, b)).unwrap_or(f64::NAN) - own;
        println!(
            "train-reference threads={threads}: {:.0} samples/s (median step {:.0}; {} samples in {:.3} s), test acc {:.4}, \
             final loss {:?}; waited {waited:.0} s for quiet, other busy cores during run+eval {busy:.2}",
            r.samples_per_sec, r.median_step_samples_per_sec, r.samples, r.seconds, r.test_acc, r.final_loss
        );
        rates.push(r.samples_per_sec);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!("train-reference threads={threads}: median {:.0} samples/s over {repeats} runs", rates[repeats / 2]);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if let Some(pos) = args.iter().position(|a| a == "train-reference") {
        let threads = args.get(pos + 1).and_then(|s| s.parse().ok()).unwrap_or(2);
        let repeats = args.get(pos + 2).and_then(|s| s.parse().ok()).unwrap_or(3);
        train_reference(threads, repeats.max(1));
        return;
    }
    if args.iter().any(|a| a == "profile-train") {
        let data = Mnist::load(&resolve_dir(None)).expect("MNIST loads");
        let cfg = TrainConfig {
            train_subset: Some(10_000),
            threads: 2,
            epochs: 20,
            test_subset: Some(256),
            eval_every_epoch: false,
            ..TrainConfig::default()
        };
        let r = train(&cfg, &data, &mut |_| {}).unwrap();
        println!("{:.0} samples/s, median step {:.0}", r.samples_per_sec, r.median_step_samples_per_sec);
        return;
    }
    if args.iter().any(|a| a == "transition") {
        let mut s2 = Step::new(B);
        s2.run(1.0 / B as f64);
        let labels = s2.labels.clone();
        let a = vec![0.5f32; 128 * 128];
        let x = vec![0.25f32; 128 * 128];
        let mut y = vec![0.0f32; 128 * 128];
        let t_mm = time(300, || matmul::forward(&mut y, false, &a, &x, 128, 128, 128, Par::Seq));
        let t_both = time(300, || {
            matmul::forward(&mut y, false, &a, &x, 128, 128, 128, Par::Seq);
            black_box(softmax_xent(&mut s2.tape, &labels, Some(1.0 / B as f64)).unwrap());
        });
        #[target_feature(enable = "avx")]
        unsafe fn zu() {
            std::arch::x86_64::_mm256_zeroupper();
        }
        let t_zu = time(300, || {
            matmul::forward(&mut y, false, &a, &x, 128, 128, 128, Par::Seq);
            unsafe { zu() };
            black_box(softmax_xent(&mut s2.tape, &labels, Some(1.0 / B as f64)).unwrap());
        });
        let t_sm = time(300, || {
            black_box(softmax_xent(&mut s2.tape, &labels, Some(1.0 / B as f64)).unwrap());
        });
        println!(
            "matmul {:.1} us; matmul+softmax {:.1} us; with vzeroupper {:.1} us; softmax alone {:.1} us",
            t_mm * 1e6,
            t_both * 1e6,
            t_zu * 1e6,
            t_sm * 1e6
        );
        return;
    }
    if args.iter().any(|a| a == "profile-forward") {
        let mut s = Step::new(B);
        for _ in 0..500 {
            forward(&s.params, &mut s.tape).unwrap();
        }
        return;
    }
    if args.iter().any(|a| a == "profile-backward") {
        let mut s = Step::new(B);
        s.run(1.0 / B as f64);
        for _ in 0..500 {
            backward(&s.params, &mut s.tape, &mut s.grads).unwrap();
        }
        return;
    }
    if args.iter().any(|a| a == "breakdown") {
        breakdown();
        return;
    }
    if args.iter().any(|a| a == "quick") {
        quick_report();
        return;
    }
    quick_report();
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();
}

#[allow(dead_code)]
fn breakdown() {
    let mut s = Step::new(B);
    let t_f = time(50, || forward(&s.params, &mut s.tape).unwrap());
    let mut s2 = Step::new(B);
    s2.run(1.0 / B as f64);
    let t_b = time(50, || backward(&s2.params, &mut s2.tape, &mut s2.grads).unwrap());
    println!("forward {:.3} ms, backward {:.3} ms", t_f * 1e3, t_b * 1e3);
    let labels = s2.labels.clone();
    let t_l = time(200, || {
        black_box(softmax_xent(&mut s2.tape, &labels, Some(1.0 / B as f64)).unwrap());
    });
    println!("softmax_xent of {B} samples {:.2} us", t_l * 1e6);
    let t_fl = time(50, || {
        forward(&s2.params, &mut s2.tape).unwrap();
        black_box(softmax_xent(&mut s2.tape, &labels, Some(1.0 / B as f64)).unwrap());
    });
    let t_f2 = time(50, || forward(&s2.params, &mut s2.tape).unwrap());
    println!("forward+softmax {:.3} ms vs forward {:.3} ms", t_fl * 1e3, t_f2 * 1e3);
    let g1 = s2.grads.clone();
    let g2 = s2.grads.clone();
    let mut p = s2.params.clone();
    let mut sgd = edge_of_chaos::nn::sgd::Sgd::<f32>::new(0.0, 0.0, p.as_slice().len());
    let t_u = time(200, || sgd.step(p.as_mut_slice(), &[g1.as_slice(), g2.as_slice()], false));
    println!("sgd update of {} parameters (2 gradient pieces, 1 thread) {:.1} us", p.as_slice().len(), t_u * 1e6);
    let (m, k, n) = (128, 128, 128);
    let a = vec![0.5f32; m * k];
    let x = vec![0.25f32; k * n];
    let mut y = vec![0.0f32; m * n];
    let flops = 2 * (m * k * n) as u64;
    let t = time(2000, || matmul::forward(&mut y, false, &a, &x, k, m, n, Par::Seq));
    println!("forward product {:.1} GFLOP/s", gflops(flops, t));
    let t = time(2000, || matmul::forward(&mut y, true, &a, &x, k, m, n, Par::Seq));
    println!("forward product (accumulate) {:.1} GFLOP/s", gflops(flops, t));
    let t = time(2000, || matmul::backward_input(&mut y, false, &a, &x, k, m, n, Par::Seq));
    println!("backward_input {:.1} GFLOP/s", gflops(flops, t));
    let t = time(2000, || matmul::backward_input(&mut y, true, &a, &x, k, m, n, Par::Seq));
    println!("backward_input (accumulate) {:.1} GFLOP/s", gflops(flops, t));
    let mut dw = vec![0.0f32; m * k];
    let t = time(2000, || matmul::backward_weight(&mut dw, &y, &x, k, m, n, Par::Seq));
    println!("backward_weight {:.1} GFLOP/s", gflops(flops, t));
    // Fixed cost of a faer call: products with few columns.
    for cols in [4usize, 8, 16, 32] {
        let t = time(20000, || matmul::forward(&mut y[..m * cols], false, &a, &x[..k * cols], k, m, cols, Par::Seq));
        println!(
            "forward product 128x128 * 128x{cols}: {:.2} us ({:.1} GFLOP/s)",
            t * 1e6,
            gflops(2 * (m * k * cols) as u64, t)
        );
    }
    let k = edge_of_chaos::nn::scalar::Kernel::<f32>::new(Activation::Tanh);
    let bias = vec![0.1f32; N];
    let mut h = vec![0.3f32; N * B];
    let mut phi = vec![0.0f32; N * B];
    let t = time(2000, || edge_of_chaos::nn::scalar::bias_act_forward(k, N, Some(&bias), &mut h, &mut phi));
    println!("bias+tanh forward {:.2} us", t * 1e6);
    let mut db = vec![0.0f32; N];
    let t = time(2000, || edge_of_chaos::nn::scalar::act_backward(k, N, &h, &phi, &mut y, Some(&mut db)));
    println!("tanh backward {:.2} us", t * 1e6);
}
