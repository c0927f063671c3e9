//! The one stable hash of the harness: FNV-1a (64-bit).
//!
//! Every mapping that must be the same in every run, and that other tools must be able to
//! redo, hashes with it: key → connection (`key_affine`, [`crate::workload::key_affine_conn`]),
//! key → worker of the keyed consume pool (a tag's `key_hash`), the payload tag's run number for
//! an id jsbench does not make ([`crate::workload::run_tag`]), the nodes a cluster fault picks
//! (`nemesis`), and the bootstrap stream of each compared metric (`compare`). std's hasher is
//! seeded per process, so it cannot serve. It lives in a file of its own because all of these
//! use it and none of them owns it.

/// FNV-1a (64-bit) of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_has_the_reference_values() {
        // FNV-1a 64 test vectors: key → connection and key → worker must never change.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
