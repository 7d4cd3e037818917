#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imcredits_fuzz_targets::meta_rates_csv(data));
