//! Command line of edge-of-chaos. The commands live in [`cmd`] (one module each); all work is done
//! by the library.
//!
//! Exit status: 0 success, 1 failure, 2 invalid input (bad option, profile, stage, value or file).

mod cmd;

fn main() -> std::process::ExitCode {
    cmd::main()
}
