//! Division by a multiplication: the window's divisors (a bucket's width, the bucket count,
//! a count window's length) change only on reloads, and a 64-bit `div` cost more than the
//! rest of a recorded success on the machines this was measured on (35 to 90 cycles; a
//! multiplication is 3 or 4).
//!
//! The reciprocals live beside the geometry as plain atomics: a reload may swap a divisor and
//! its reciprocal while a writer holds the old geometry, so [`div_rem`] checks its answer
//! with the remainder and divides for real when the reciprocal was another divisor's. The
//! answer is therefore exact whatever the reciprocal, and nothing rests on which one a
//! racing reader sees (which is why they are std atomics, outside the loom models).

/// `u64::MAX / d` (for `d` of at least 1): what [`div_rem`] multiplies by to divide by `d`.
pub(crate) const fn reciprocal(d: u64) -> u64 {
    u64::MAX / if d == 0 { 1 } else { d }
}

/// `(n / d, n % d)` for `d` of at least 1, with `m` = [`reciprocal`]`(d)`.
///
/// Why one correction is enough: with `m = (2^64 - 1 - e) / d` for some `0 <= e < d`,
/// `n × m / 2^64 = n / d - n (1 + e) / (d 2^64)`, and the error term is below `n / 2^64 < 1`;
/// so the high word of `n × m` is `⌊n / d⌋` or one less. Any other answer (a reciprocal of
/// another divisor) fails the remainder check and is divided out.
#[inline(always)]
pub(crate) fn div_rem(n: u64, d: u64, m: u64) -> (u64, u64) {
    let q = ((u128::from(n) * u128::from(m)) >> 64) as u64;
    if let Some(r) = q.checked_mul(d).and_then(|p| n.checked_sub(p)) {
        if r < d {
            return (q, r);
        }
        if r - d < d {
            return (q + 1, r - d);
        }
    }
    div_rem_slow(n, d)
}

/// The real division, for a reciprocal that was not `d`'s.
#[cold]
#[inline(never)]
fn div_rem_slow(n: u64, d: u64) -> (u64, u64) {
    let d = d.max(1);
    (n / d, n % d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(n: u64, d: u64) {
        assert_eq!(div_rem(n, d, reciprocal(d)), (n / d, n % d), "{n} / {d}");
    }

    #[test]
    fn the_reciprocal_divides_exactly() {
        let edges = [
            0,
            1,
            2,
            3,
            999,
            1_000_000,
            1 << 32,
            (1 << 45) - 1,
            u64::MAX - 1,
            u64::MAX,
        ];
        for &d in &[
            1,
            2,
            3,
            7,
            10,
            1000,
            1024,
            1_000_000,
            6_000_000_000,
            1 << 55,
            u64::MAX,
        ] {
            for &n in &edges {
                check(n, d);
                check(n.wrapping_mul(d), d);
                check(n.wrapping_mul(d).wrapping_sub(1), d);
            }
        }
        // A pseudo-random sweep (xorshift), every bit length of numerator and divisor.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = (x >> (x % 64)).max(1);
            let n = x.rotate_left(17) >> (x % 61);
            check(n, d);
        }
    }

    #[test]
    fn another_divisors_reciprocal_still_gives_the_exact_answer() {
        for (n, d, other) in [
            (123_456_789_u64, 1_000_000, 10),
            (u64::MAX, 3, 1),
            (5, 1000, 1),
            (1 << 50, 6_000_000_000, 7),
            (42, 1, u64::MAX),
        ] {
            assert_eq!(div_rem(n, d, reciprocal(other)), (n / d, n % d));
            assert_eq!(div_rem(n, d, 0), (n / d, n % d));
        }
    }
}
