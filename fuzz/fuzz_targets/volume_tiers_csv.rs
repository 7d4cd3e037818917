#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imcredits_fuzz_targets::volume_tiers_csv(data));
