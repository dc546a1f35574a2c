//! The fleet's decoders of what it reads from Redis (reports, operators' forces, pub/sub
//! notices): any bytes, as an attacker with write access to the Redis could write them.
//!
//! Checks: nothing panics; whatever decodes is within the documented bounds; and whatever
//! decodes encodes and decodes back to itself.
#![no_main]

use breaker::fleet::{Force, Notice, Report, MAX_KEYS, MAX_NAME_BYTES, MAX_RECORD_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = Report::decode(data) {
        assert!(data.len() <= MAX_RECORD_BYTES);
        assert!((0.0..=1.0).contains(&report.rate));
        assert!(report.keys.len() <= MAX_KEYS);
        assert_eq!(Report::decode(&report.encode()).as_ref(), Ok(&report));
    }
    if let Ok(force) = Force::decode(data) {
        assert!(force.by.len() <= MAX_NAME_BYTES);
        assert_eq!(Force::decode(&force.encode()).as_ref(), Ok(&force));
    }
    if let Ok(notice) = Notice::decode(data) {
        assert!(notice.component.len() <= MAX_NAME_BYTES);
        assert!(notice.replica.len() <= MAX_NAME_BYTES);
        assert_eq!(Notice::decode(&notice.encode()).as_ref(), Ok(&notice));
    }
});
