//! The store contract (`store_contract/`) on dynoxide, the engine the local runner embeds, started
//! in-process for each test.

mod store_contract;

use imcredits_tests::Backend;

macro_rules! contract_on_dynoxide {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let backend = Backend::dynoxide().await;
                store_contract::$name(&backend).await;
            }
        )*
    };
}

contract_on_dynoxide!(
    the_same_entry_posted_twenty_times_moves_the_balance_once,
    eight_tasks_of_fifty_charges_end_exact_with_a_gap_free_chain,
    a_write_that_fails_once_and_is_retried_ends_as_if_it_had_not_failed,
    a_batch_with_some_duplicates_posts_the_rest_and_reports_each,
    statement_pages_return_every_entry_once_in_order,
    a_delivered_charge_may_overdraw_and_then_blocks_sending,
    refused_postings_change_nothing,
    a_wallet_is_created_once,
    a_phone_number_routes_to_one_wallet,
    extras_commit_with_new_entries_only,
    // Purchases.
    a_purchase_is_recorded_once_and_credited_once_whatever_the_order,
    a_fulfilment_whose_answer_is_lost_is_credited_once_on_retry,
    purchase_history_pages_newest_first_within_one_account,
    the_newest_purchase_s_card_is_kept,
    // Auto-recharge.
    the_due_index_follows_balance_and_settings,
    the_recharge_lock_is_written_once_per_revision,
    a_table_made_before_the_due_index_gains_it,
);
