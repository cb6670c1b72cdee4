//! Mean-field recurrences, asymptotic laws and exponent fitting.
