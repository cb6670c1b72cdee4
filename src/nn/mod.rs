//! The faer-backed network core: models, backpropagation, SGD, the MNIST loader, training.
//!
//! - [`scalar`]: the float trait ([`Scalar`], `f32`/`f64`) and the fused element-wise kernels;
//! - [`matmul`]: the products of a dense layer, on [`microkernel`] (an AVX-512 kernel that gives
//!   faer's bits, faster at the network's sizes) where it applies and through faer otherwise;
//! - [`model`], [`init`]: model description, parameter storage and seeded initialization;
//! - [`tape`]: batched forward/backward passes over a reusable workspace with per-layer access;
//! - [`loss`]: softmax cross-entropy; [`sgd`]: the optimizer;
//! - [`cpu`]: the SIMD features that select the kernels (bit-identity across machines);
//! - [`mnist`]: the verified MNIST loader; [`train`]: one training run (the `train` command and
//!   each point of the training grids).

pub mod cpu;
pub mod init;
pub mod loss;
pub mod matmul;
pub mod microkernel;
pub mod mnist;
pub mod model;
pub mod scalar;
pub mod sgd;
pub mod tape;
pub mod train;

#[cfg(test)]
mod gradcheck;

pub use faer::Par;
pub use init::init;
pub use loss::{softmax_xent, BatchLoss, LossError};
pub use mnist::{Mnist, MnistError};
pub use model::{Block, BlockMut, Layout, ModelError, ModelSpec, Params};
pub use scalar::Scalar;
pub use tape::{backward, backward_data, backward_from_top, forward, Tape, TapeError, TapeMode};
pub use train::{EpochRow, TrainConfig, TrainEvent, TrainResult};
