//! Redis 7.0's persistence formats, byte-compatible both ways: RDB snapshots
//! (also the DUMP/RESTORE payload and the replication full-sync transfer) and
//! the multi-part AOF (manifest, base and incremental files).
//!
//! Readers and writers work over `std::io` on values from the storage crate.
//! Nothing here forks, schedules saves or knows about clients: the server's
//! persistence drivers do that.

pub mod aof;
pub mod rdb;

/// The CRC-64 Redis appends to RDB files and DUMP payloads (Jones
/// polynomial, reflected), from the `crc` crate's catalogue, computed with
/// its slice-by-16 tables (several times faster than byte at a time on a
/// multi-gigabyte snapshot).
pub const CRC64: crc::Crc<u64, crc::Table<16>> = crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS);

/// A running CRC-64 (see `CRC64`).
pub type Crc64Digest = crc::Digest<'static, u64, crc::Table<16>>;

#[cfg(test)]
mod tests {
    #[test]
    fn crc64_is_redis_crc64() {
        // Redis's own test vector (crc64.c): "123456789".
        assert_eq!(super::CRC64.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
    }
}
