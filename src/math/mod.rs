//! Special functions, quadrature rules, Gaussian expectations and the alpha-ReLU kernels.
