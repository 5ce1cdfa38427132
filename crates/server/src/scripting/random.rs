//! The pseudo-random generator behind a script's `math.random`: the 48-bit
//! linear congruential generator of POSIX `lrand48`, which Redis carries as
//! its own copy so every platform yields the same sequence. Redis never
//! reseeds it between scripts (only `math.randomseed` does), so the sequence
//! runs on from server start, and so does ours.

/// `lrand48` state: 48 bits.
#[derive(Clone, Copy, Debug)]
pub struct Lrand48 {
    x: u64,
}

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const INCREMENT: u64 = 0xB;
const MASK_48: u64 = (1 << 48) - 1;
/// The low 16 bits every seed gets (and the start state's high words).
const SEED_LOW: u64 = 0x330E;

impl Default for Lrand48 {
    /// The state before any seeding, as the C library's static initialiser.
    fn default() -> Self {
        Lrand48 { x: 0x1234_ABCD_0000 | SEED_LOW }
    }
}

impl Lrand48 {
    /// `srand48(seed)`: the seed's 32 bits above the fixed low word.
    pub fn seed(&mut self, seed: i32) {
        self.x = (u64::from(seed as u32) << 16) | SEED_LOW;
    }

    /// The next value in `0..2^31`.
    pub fn next(&mut self) -> i32 {
        self.x = (self.x.wrapping_mul(MULTIPLIER).wrapping_add(INCREMENT)) & MASK_48;
        (self.x >> 17) as i32
    }

    /// A number in `[0, 1)`, as Lua's `math.random()` without arguments
    /// computes it from the generator (the modulo keeps 1 out).
    pub fn next_unit(&mut self) -> f64 {
        f64::from(self.next() % i32::MAX) / f64::from(i32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::Lrand48;

    #[test]
    fn first_draws_match_redis() {
        // redis-server 7.0.15 just started: EVAL "return math.random(100)" 0
        // answers 40, then 85.
        let mut rng = Lrand48::default();
        let draw = |rng: &mut Lrand48| (rng.next_unit() * 100.0).floor() as i64 + 1;
        assert_eq!(draw(&mut rng), 40);
        assert_eq!(draw(&mut rng), 85);
    }

    #[test]
    fn seeding_restarts_the_sequence() {
        let mut a = Lrand48::default();
        a.seed(42);
        let first = a.next();
        a.next();
        a.seed(42);
        assert_eq!(a.next(), first);
    }
}
