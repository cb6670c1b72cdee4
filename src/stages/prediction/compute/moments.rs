//! The input moments $p^0$, $e^0$ of the mean-field recurrences, measured on the MNIST images.

use crate::nn::mnist::{Mnist, PIXELS};

/// Mean-field input moments of the MNIST embedding $x^0 = E\tilde u$, $E_{ij} \sim N(0, 1/784)$, of the
/// standardized images $\tilde u$: conditional on the images, $E[(x^0_i)^2] = \|\tilde u\|^2/784$ and
/// $E[x^0_i x'^0_i] = \tilde u\cdot\tilde u'/784$. Over the first `n` training images,
/// $p^0 = \frac1n\sum_a \|\tilde u_a\|^2/784$ and $\gamma^0$ is the mean over ordered pairs
/// $a \ne b$ of $\tilde u_a\cdot\tilde u_b/784$, computed exactly through
/// $\sum_{a\ne b}\tilde u_a\cdot\tilde u_b = \|\sum_a \tilde u_a\|^2 - \sum_a\|\tilde u_a\|^2$;
/// $e^0 = \gamma^0/p^0$ (the recurrences take two inputs of equal length $p^0$).
pub fn input_moments(m: &Mnist, n: usize) -> (f64, f64) {
    let n = n.clamp(2, m.train.len());
    let mut buf = vec![0.0f64; PIXELS];
    let mut sum = vec![0.0f64; PIXELS];
    let mut sq = 0.0;
    for a in 0..n {
        m.gather_range::<f64>(&m.train, a, a + 1, &mut buf);
        for (s, x) in sum.iter_mut().zip(&buf) {
            *s += x;
        }
        sq += buf.iter().map(|x| x * x).sum::<f64>();
    }
    let d = PIXELS as f64;
    let p0 = sq / (n as f64 * d);
    let cross = sum.iter().map(|x| x * x).sum::<f64>() - sq;
    let gamma0 = cross / ((n * (n - 1)) as f64 * d);
    (p0, gamma0 / p0)
}
