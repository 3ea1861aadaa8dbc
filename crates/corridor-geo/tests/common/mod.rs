//! Helpers shared by the integration tests.

/// CRC-32 (ISO-HDLC, the IEEE polynomial), as the `.cnet` format uses,
/// written out here so a test that forges a file's checksum does not lean
/// on the code it checks (`bad_input.rs` checks it against the standard
/// check value).
pub fn crc32(b: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &x in b {
        crc ^= u32::from(x);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
