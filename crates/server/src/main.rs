//! The heliograph binary.
fn main() {}
