//! The faer-backed network core: models, backpropagation, SGD, the MNIST loader.
