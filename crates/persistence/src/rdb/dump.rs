//! The DUMP/RESTORE payload: the value's RDB type and body, the RDB version
//! as two little-endian bytes, and the CRC-64 of all that (little-endian).

use cinnabar_storage::Value;

use super::io::{RdbReader, RdbWriter};
use super::load::{load_value, LoadOptions};
use super::save::{save_value, value_type};
use super::{RdbError, RDB_VERSION};
use crate::CRC64;

/// Version bytes plus checksum.
const FOOTER: usize = 10;

/// Serializes `value` as DUMP does (`compress`: `rdbcompression`).
pub fn dump_value(value: &Value, compress: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = RdbWriter::new(&mut out, compress, false);
    let body = w.byte(value_type(value)).and_then(|()| save_value(&mut w, value));
    body.and_then(|()| w.finish()).expect("writing to memory cannot fail");
    // The writer appends an 8-byte (zero) checksum: replace it with the footer.
    out.truncate(out.len() - 8);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// True when the footer names a version we read and the checksum matches
/// (RESTORE's "DUMP payload version or checksum are wrong" otherwise).
pub fn payload_is_valid(payload: &[u8]) -> bool {
    if payload.len() < FOOTER {
        return false;
    }
    let footer = &payload[payload.len() - FOOTER..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().expect("8 bytes"));
    version <= RDB_VERSION && CRC64.checksum(&payload[..payload.len() - 8]) == crc
}

/// Decodes a checked payload's value (`None` for an empty collection).
pub fn restore_value(payload: &[u8], opts: &LoadOptions) -> Result<Option<Value>, RdbError> {
    let body = &payload[..payload.len().saturating_sub(FOOTER)];
    let mut r = RdbReader::new(body);
    let rdb_type = r.byte()?;
    load_value(&mut r, rdb_type, opts)
}
