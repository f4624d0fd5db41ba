//! Mutated samples never make the probe panic, and what it answers holds together.

use proptest::prelude::*;

use crate::support::{sample, sample_names};

mod check {
    include!("../../../fuzz/checks/media_probe.rs");
}

/// A change to a sample: overwrite bytes, flip bits, cut, or splice a part elsewhere.
#[derive(Debug, Clone)]
enum Mutation {
    Overwrite {
        at: usize,
        bytes: Vec<u8>,
    },
    FlipBit {
        at: usize,
        bit: u8,
    },
    Truncate {
        at: usize,
    },
    Duplicate {
        from: usize,
        len: usize,
        to: usize,
    },
    /// A 32-bit big-endian size field set to an extreme.
    Size {
        at: usize,
        value: u32,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Overwrite { at, bytes }),
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 1usize..512, any::<usize>())
            .prop_map(|(from, len, to)| Mutation::Duplicate { from, len, to }),
        (
            any::<usize>(),
            prop_oneof![
                Just(0u32),
                Just(1),
                Just(7),
                Just(8),
                Just(u32::MAX),
                any::<u32>()
            ]
        )
            .prop_map(|(at, value)| Mutation::Size { at, value }),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        match mutation {
            Mutation::Overwrite { at, bytes: new } => {
                for (i, byte) in new.iter().enumerate() {
                    let index = (at + i) % len;
                    bytes[index] = *byte;
                }
            }
            Mutation::FlipBit { at, bit } => bytes[at % len] ^= 1 << bit,
            Mutation::Truncate { at } => bytes.truncate(at % len),
            Mutation::Duplicate { from, len: n, to } => {
                let from = from % len;
                let part = bytes[from..(from + n).min(len)].to_vec();
                let to = to % len;
                bytes.splice(to..to, part);
            }
            Mutation::Size { at, value } => {
                let at = at % len;
                for (i, byte) in value.to_be_bytes().iter().enumerate() {
                    if let Some(slot) = bytes.get_mut(at + i) {
                        *slot = *byte;
                    }
                }
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_samples_never_panic(
        which in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let names = sample_names();
        let name = which.get(&names);
        let bytes = apply(sample(name), &mutations);
        check::check(&bytes);
    }
}
