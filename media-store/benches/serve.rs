//! Serving benchmark (written next).
fn main() {}
