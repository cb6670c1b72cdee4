//! The CPU's SIMD features that decide which code paths the matrix kernels take.
//!
//! faer's products (through `gemm` and `pulp`) pick their micro-kernels at run time by the
//! instruction set of the CPU (SSE, AVX2 + FMA, AVX-512), and the element-wise kernels are
//! compiled for the build target. Kernels of different widths sum in different orders, so a
//! training run is bit-identical across machines only when these features are the same: the
//! published report records them, and `edge-of-chaos verify` compares them with the machine it
//! runs on.

/// The x86-64 features checked, in this order (those that select faer/gemm code paths and their
/// prerequisites).
pub const X86_FEATURES: [&str; 9] =
    ["sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512dq", "avx512vl"];

/// The features of [`X86_FEATURES`] this CPU has, in that order (detected at run time with
/// `is_x86_feature_detected!`); empty on other architectures.
pub fn features() -> Vec<String> {
    #[cfg(target_arch = "x86_64")]
    {
        let has = [
            std::is_x86_feature_detected!("sse4.2"),
            std::is_x86_feature_detected!("avx"),
            std::is_x86_feature_detected!("avx2"),
            std::is_x86_feature_detected!("fma"),
            std::is_x86_feature_detected!("f16c"),
            std::is_x86_feature_detected!("avx512f"),
            std::is_x86_feature_detected!("avx512bw"),
            std::is_x86_feature_detected!("avx512dq"),
            std::is_x86_feature_detected!("avx512vl"),
        ];
        X86_FEATURES.iter().zip(has).filter(|(_, h)| *h).map(|(f, _)| f.to_string()).collect()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

/// The target architecture the program was built for (`x86_64`, `aarch64`, ...).
pub fn arch() -> &'static str {
    std::env::consts::ARCH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_known_ordered_and_consistent() {
        let f = features();
        let pos: Vec<usize> = f.iter().map(|x| X86_FEATURES.iter().position(|k| k == x).expect("known")).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{f:?}");
        let has = |x: &str| f.iter().any(|y| y == x);
        // The hardware's own implications (an AVX-512 CPU has AVX2, an AVX2 CPU has AVX and SSE4.2).
        for (a, b) in [("avx512f", "avx2"), ("avx512bw", "avx512f"), ("avx2", "avx"), ("avx", "sse4.2")] {
            assert!(!has(a) || has(b), "{a} without {b}: {f:?}");
        }
        // What the compiler was told about the target is a lower bound of what the CPU has.
        if cfg!(all(target_arch = "x86_64", target_feature = "avx2")) {
            assert!(has("avx2"));
        }
        if cfg!(not(target_arch = "x86_64")) {
            assert!(f.is_empty());
        }
    }
}
