//! The store contract (`store_contract/`) on dynoxide, the engine the local runner embeds, started
//! in-process for each test.

#[macro_use]
mod store_contract;

use imcredits_tests::Backend;

store_contract_on!(Backend::dynoxide().await);
