//! Model description ([`ModelSpec`]) and parameter storage ([`Params`]): every weight and bias of
//! the network in one flat vector (so SGD, gradient reduction and finiteness checks are single
//! loops), with typed views per block.
//!
//! Block $l = 1, \dots, L$ (index `l - 1` in the API) of each architecture (docs/theory.md §1):
//! - vanilla: $x^l = W^l \phi(x^{l-1}) + b^l$;
//! - reduced (RRN): $x^l = x^{l-1} + W^l \phi(x^{l-1}) + b^l$;
//! - full (FRN): $h^l = W^l x^{l-1} + b^l$, $x^l = x^{l-1} + V^l \phi(h^l) + a^l$.
//!
//! Optionally an embedding $x^0 = E u + e$ of the input $u \in \mathbb{R}^{d}$ and a readout
//! $y = R x^L + r$ (the logits). Without them ("residual trunk only") the model acts directly on a
//! given $x^0$ and its output is $x^L$.

use super::scalar::Scalar;
use crate::activation::Activation;
use crate::architecture::Architecture;
use serde::{Deserialize, Serialize};

/// Invalid model description.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("width = {0} is out of range (valid: width >= 1)")]
    Width(usize),
    #[error("{name} = {value} is out of range (valid: finite and >= 0)")]
    Variance { name: &'static str, value: f64 },
    #[error("{name} = 0 is out of range (valid: >= 1)")]
    Dim { name: &'static str },
}

/// Everything that determines the shapes and the initial distribution of a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub arch: Architecture,
    pub act: Activation,
    /// Width $N$.
    pub width: usize,
    /// Number of blocks $L$ (0 is allowed: embedding straight into readout).
    pub depth: usize,
    /// $\sigma_w^2$: $W^l_{ij} \sim \mathcal{N}(0, \sigma_w^2/N)$.
    pub sw2: f64,
    /// $\sigma_v^2$: $V^l_{ij} \sim \mathcal{N}(0, \sigma_v^2/N)$ (FRN only).
    pub sv2: f64,
    /// $\sigma_b^2$: $b^l_i \sim \mathcal{N}(0, \sigma_b^2)$.
    pub sb2: f64,
    /// $\sigma_a^2$: $a^l_i \sim \mathcal{N}(0, \sigma_a^2)$ (FRN only).
    pub sa2: f64,
    /// Input dimension $d$ of the embedding $E \in \mathbb{R}^{N\times d}$, $E_{ij} \sim
    /// \mathcal{N}(0, 1/d)$, $e = 0$; `None`: no embedding (the input is $x^0$ itself).
    pub input_dim: Option<usize>,
    /// Number of outputs $K$ of the readout $R \in \mathbb{R}^{K \times N}$, $R_{ij} \sim
    /// \mathcal{N}(0, 1/N)$, $r = 0$; `None`: no readout (the output is $x^L$).
    pub output_dim: Option<usize>,
}

impl ModelSpec {
    /// A residual trunk without embedding or readout, acting on given $x^0 \in \mathbb{R}^N$.
    #[allow(clippy::too_many_arguments)]
    pub fn trunk(
        arch: Architecture,
        act: Activation,
        width: usize,
        depth: usize,
        sw2: f64,
        sv2: f64,
        sb2: f64,
        sa2: f64,
    ) -> Self {
        Self { arch, act, width, depth, sw2, sv2, sb2, sa2, input_dim: None, output_dim: None }
    }

    /// The MNIST classifier: embedding 784 -> N, the trunk, readout N -> 10.
    #[allow(clippy::too_many_arguments)]
    pub fn mnist(
        arch: Architecture,
        act: Activation,
        width: usize,
        depth: usize,
        sw2: f64,
        sv2: f64,
        sb2: f64,
        sa2: f64,
    ) -> Self {
        Self { input_dim: Some(784), output_dim: Some(10), ..Self::trunk(arch, act, width, depth, sw2, sv2, sb2, sa2) }
    }

    /// Checks the description.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.width == 0 {
            return Err(ModelError::Width(0));
        }
        for (name, value) in [("sw2", self.sw2), ("sv2", self.sv2), ("sb2", self.sb2), ("sa2", self.sa2)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ModelError::Variance { name, value });
            }
        }
        if self.input_dim == Some(0) {
            return Err(ModelError::Dim { name: "input_dim" });
        }
        if self.output_dim == Some(0) {
            return Err(ModelError::Dim { name: "output_dim" });
        }
        Ok(())
    }

    /// Dimension of the model's input: $d$ with an embedding, $N$ without.
    pub fn in_dim(&self) -> usize {
        self.input_dim.unwrap_or(self.width)
    }

    /// Dimension of the model's output: $K$ with a readout, $N$ without.
    pub fn out_dim(&self) -> usize {
        self.output_dim.unwrap_or(self.width)
    }

    /// The parameter layout.
    pub fn layout(&self) -> Layout {
        Layout::new(self)
    }

    /// Multiply-adds per sample of one forward pass (matrix products only).
    pub fn macs_per_sample(&self) -> usize {
        let n = self.width;
        let per_block = if self.arch == Architecture::Full { 2 * n * n } else { n * n };
        self.input_dim.map_or(0, |d| d * n) + self.depth * per_block + self.output_dim.map_or(0, |k| k * n)
    }

    /// Floating-point operations per sample of one training step (matrix products only):
    /// $2\,(3 M - d N)$ with $M$ = [`Self::macs_per_sample`], since the forward product, the
    /// backward data product and the weight-gradient product each cost $M$ multiply-adds, except
    /// that the embedding's input gradient ($d N$) is not computed.
    pub fn train_flops_per_sample(&self) -> usize {
        2 * (3 * self.macs_per_sample() - self.input_dim.map_or(0, |d| d * self.width))
    }
}

/// Offsets of each tensor in the flat parameter vector. Order: embedding $E$, $e$; then for each
/// block $W, b$ (and $V, a$ for FRN); then readout $R$, $r$. Weights are row-major (`out x in`).
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub arch: Architecture,
    pub width: usize,
    pub depth: usize,
    pub input_dim: Option<usize>,
    pub output_dim: Option<usize>,
    embed: usize,
    blocks: usize,
    block_len: usize,
    readout: usize,
    len: usize,
}

impl Layout {
    fn new(spec: &ModelSpec) -> Self {
        let n = spec.width;
        let embed = 0;
        let blocks = spec.input_dim.map_or(0, |d| d * n + n);
        let block_len = if spec.arch == Architecture::Full { 2 * (n * n + n) } else { n * n + n };
        let readout = blocks + spec.depth * block_len;
        let len = readout + spec.output_dim.map_or(0, |k| k * n + k);
        Self {
            arch: spec.arch,
            width: n,
            depth: spec.depth,
            input_dim: spec.input_dim,
            output_dim: spec.output_dim,
            embed,
            blocks,
            block_len,
            readout,
            len,
        }
    }

    /// Total number of parameters.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Values per block: $N^2 + N$ (vanilla, RRN) or $2(N^2 + N)$ (FRN).
    pub fn block_len(&self) -> usize {
        self.block_len
    }
}

/// Cuts one block's values (as laid out by [`Layout`]) into its tensors.
pub fn split_block_mut<T>(chunk: &mut [T], width: usize, arch: Architecture) -> BlockMut<'_, T> {
    let n = width;
    let full = arch == Architecture::Full;
    let (w, rest) = chunk.split_at_mut(n * n);
    let (b, rest) = rest.split_at_mut(n);
    let (v, rest) = rest.split_at_mut(if full { n * n } else { 0 });
    let a = &mut rest[..if full { n } else { 0 }];
    BlockMut { w, b, v, a }
}

/// A weight matrix and its bias, mutable.
pub type WeightBiasMut<'a, T> = (&'a mut [T], &'a mut [T]);

/// One block's parameters. `v` and `a` are empty for vanilla and RRN blocks.
#[derive(Debug)]
pub struct Block<'a, T> {
    /// $W^l$, `N x N` row-major.
    pub w: &'a [T],
    /// $b^l$.
    pub b: &'a [T],
    /// $V^l$ (FRN).
    pub v: &'a [T],
    /// $a^l$ (FRN).
    pub a: &'a [T],
}

/// Mutable view of one block's parameters.
#[derive(Debug)]
pub struct BlockMut<'a, T> {
    pub w: &'a mut [T],
    pub b: &'a mut [T],
    pub v: &'a mut [T],
    pub a: &'a mut [T],
}

/// All parameters of a network (or, with the same layout, their gradients).
#[derive(Clone, Debug, PartialEq)]
pub struct Params<T> {
    layout: Layout,
    data: Vec<T>,
}

impl<T: Scalar> Params<T> {
    /// All zeros (e.g. a gradient buffer).
    pub fn zeros(spec: &ModelSpec) -> Self {
        let layout = spec.layout();
        // Written element by element (not calloc'ed): the pages are touched here, not in the
        // first timed pass.
        let mut data = Vec::with_capacity(layout.len);
        data.resize(layout.len, T::zero());
        Self { layout, data }
    }

    /// Same layout, all zeros.
    pub fn zeros_like(&self) -> Self {
        let mut data = Vec::with_capacity(self.data.len());
        data.resize(self.data.len(), T::zero());
        Self { layout: self.layout.clone(), data }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The flat vector (order: see [`Layout`]).
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Converts every entry to another float type (e.g. an `f32` model to `f64`).
    pub fn cast<U: Scalar>(&self) -> Params<U> {
        Params { layout: self.layout.clone(), data: self.data.iter().map(|&x| U::of(x.f64())).collect() }
    }

    /// True if every parameter is finite.
    pub fn all_finite(&self) -> bool {
        self.data.iter().all(|x| x.is_finite_k())
    }

    /// Embedding weight $E$ (`N x d` row-major), if any.
    pub fn embed_w(&self) -> Option<&[T]> {
        let d = self.layout.input_dim?;
        let n = self.layout.width;
        Some(&self.data[self.layout.embed..self.layout.embed + n * d])
    }

    /// Embedding bias $e$, if any.
    pub fn embed_b(&self) -> Option<&[T]> {
        let d = self.layout.input_dim?;
        let n = self.layout.width;
        let o = self.layout.embed + n * d;
        Some(&self.data[o..o + n])
    }

    /// Readout weight $R$ (`K x N` row-major), if any.
    pub fn readout_w(&self) -> Option<&[T]> {
        let k = self.layout.output_dim?;
        let n = self.layout.width;
        Some(&self.data[self.layout.readout..self.layout.readout + k * n])
    }

    /// Readout bias $r$, if any.
    pub fn readout_b(&self) -> Option<&[T]> {
        let k = self.layout.output_dim?;
        let n = self.layout.width;
        let o = self.layout.readout + k * n;
        Some(&self.data[o..o + k])
    }

    /// Block `i` (`0 <= i < L`), i.e. layer $l = i + 1$.
    pub fn block(&self, i: usize) -> Block<'_, T> {
        assert!(i < self.layout.depth, "block {i} of a depth-{} network", self.layout.depth);
        let n = self.layout.width;
        let o = self.layout.blocks + i * self.layout.block_len;
        let s = &self.data[o..o + self.layout.block_len];
        let (w, rest) = s.split_at(n * n);
        let (b, rest) = rest.split_at(n);
        let (v, rest) = rest.split_at(if self.layout.arch == Architecture::Full { n * n } else { 0 });
        let a = &rest[..if self.layout.arch == Architecture::Full { n } else { 0 }];
        Block { w, b, v, a }
    }

    /// Mutable block `i`.
    pub fn block_mut(&mut self, i: usize) -> BlockMut<'_, T> {
        assert!(i < self.layout.depth, "block {i} of a depth-{} network", self.layout.depth);
        let n = self.layout.width;
        let full = self.layout.arch == Architecture::Full;
        let o = self.layout.blocks + i * self.layout.block_len;
        let s = &mut self.data[o..o + self.layout.block_len];
        let (w, rest) = s.split_at_mut(n * n);
        let (b, rest) = rest.split_at_mut(n);
        let (v, rest) = rest.split_at_mut(if full { n * n } else { 0 });
        let a = &mut rest[..if full { n } else { 0 }];
        BlockMut { w, b, v, a }
    }

    /// Mutable embedding `(E, e)`, if any.
    pub fn embed_mut(&mut self) -> Option<(&mut [T], &mut [T])> {
        let d = self.layout.input_dim?;
        let n = self.layout.width;
        let o = self.layout.embed;
        let (w, rest) = self.data[o..o + n * d + n].split_at_mut(n * d);
        Some((w, rest))
    }

    /// Mutable readout `(R, r)`, if any.
    pub fn readout_mut(&mut self) -> Option<(&mut [T], &mut [T])> {
        let k = self.layout.output_dim?;
        let n = self.layout.width;
        let o = self.layout.readout;
        let (w, rest) = self.data[o..o + k * n + k].split_at_mut(k * n);
        Some((w, rest))
    }

    /// Disjoint mutable views of the three regions: embedding `(E, e)`, the blocks (contiguous,
    /// [`Layout::block_len`] values each, see [`split_block_mut`]) and readout `(R, r)`.
    pub fn regions_mut(&mut self) -> (Option<WeightBiasMut<'_, T>>, &mut [T], Option<WeightBiasMut<'_, T>>) {
        let n = self.layout.width;
        let (head, rest) = self.data.split_at_mut(self.layout.blocks);
        let (blocks, tail) = rest.split_at_mut(self.layout.readout - self.layout.blocks);
        let embed = self.layout.input_dim.map(|d| head.split_at_mut(n * d));
        let readout = self.layout.output_dim.map(|k| tail.split_at_mut(k * n));
        (embed, blocks, readout)
    }

    /// Euclidean norm of the whole vector, in `f64`.
    pub fn norm(&self) -> f64 {
        self.data.iter().map(|x| x.f64() * x.f64()).sum::<f64>().sqrt()
    }
}

#[cfg(test)]
mod flop_tests {
    use super::*;

    #[test]
    fn train_flops_count_each_product_by_hand() {
        // N = 4, L = 2 FRN on MNIST shapes. Forward: embedding 784*4, two blocks of two 4x4
        // products, readout 10*4. Backward data products skip the embedding; weight gradients
        // repeat every forward product.
        let spec = ModelSpec::mnist(Architecture::Full, Activation::Tanh, 4, 2, 1.0, 1.0, 0.0, 0.0);
        let forward = 784 * 4 + 2 * 2 * 16 + 10 * 4;
        let data = 2 * 2 * 16 + 10 * 4;
        let weights = forward;
        assert_eq!(spec.train_flops_per_sample(), 2 * (forward + data + weights));
        // RRN: one product per block.
        let spec = ModelSpec::mnist(Architecture::Reduced, Activation::Relu, 4, 3, 1.0, 1.0, 0.0, 0.0);
        let forward = 784 * 4 + 3 * 16 + 10 * 4;
        assert_eq!(spec.train_flops_per_sample(), 2 * (2 * forward + 3 * 16 + 10 * 4));
    }
}
