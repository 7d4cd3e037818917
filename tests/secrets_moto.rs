//! The checkout function's cold start reads Stripe's secrets from Secrets Manager by the ARNs the
//! template passes. Against moto (which `scripts/test` starts for SQS and which serves Secrets
//! Manager on the same port).

use imcredits::config::PaymentsConfig;
use imcredits::setup::{SecretError, resolve_secrets};
use imcredits_tests::sqs::sqs_endpoint;

async fn sdk() -> aws_config::SdkConfig {
    let endpoint = sqs_endpoint();
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "tests only talk to emulators on loopback"
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "imcredits-tests",
        ))
        .load()
        .await
}

async fn create_secret(sdk: &aws_config::SdkConfig, prefix: &str, text: &str) -> String {
    let name = imcredits_tests::unique_account(prefix).to_string();
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(name)
        .secret_string(text)
        .send()
        .await
        .expect("moto creates the secret")
        .arn()
        .expect("an ARN")
        .to_owned()
}

#[tokio::test]
async fn stripe_secrets_are_read_by_reference_and_configure_payments() {
    let sdk = sdk().await;
    let key_arn = create_secret(&sdk, "stripe-key", "sk_test_from_secrets_manager\n").await;
    let hook_arn = create_secret(&sdk, "stripe-hook", "whsec_new,whsec_old").await;
    let references = |name: &str| match name {
        "STRIPE_SECRET_KEY_SECRET_ID" => Some(key_arn.clone()),
        "STRIPE_WEBHOOK_SECRETS_SECRET_ID" => Some(hook_arn.clone()),
        _ => None,
    };
    let names = [PaymentsConfig::SECRET_KEY, PaymentsConfig::WEBHOOK_SECRETS];
    let secrets = resolve_secrets(&sdk, &names, references).await.unwrap();
    // Read as stored, trimmed of the newline a copy-paste leaves.
    assert_eq!(
        secrets[PaymentsConfig::SECRET_KEY],
        "sk_test_from_secrets_manager"
    );
    assert_eq!(
        secrets[PaymentsConfig::WEBHOOK_SECRETS],
        "whsec_new,whsec_old"
    );
    let config = PaymentsConfig::from_lookup(|name| match name {
        "CHECKOUT_SUCCESS_URL" => Some("https://app.example.com/paid".into()),
        "CHECKOUT_CANCEL_URL" => Some("https://app.example.com/buy".into()),
        other => secrets.get(other).cloned(),
    });
    assert!(config.is_ok(), "{config:?}");

    // Without references nothing is read (the environment supplies the values locally).
    let none = resolve_secrets(&sdk, &names, |_| None).await.unwrap();
    assert!(none.is_empty());

    // A reference to a secret that does not exist stops the cold start, naming what it was for.
    let missing = resolve_secrets(&sdk, &names, |name| {
        (name == "STRIPE_WEBHOOK_SECRETS_SECRET_ID").then(|| "imcredits/no-such-secret".to_owned())
    })
    .await;
    match missing {
        Err(SecretError::Read { name, id, .. }) => {
            assert_eq!(name, PaymentsConfig::WEBHOOK_SECRETS);
            assert_eq!(id, "imcredits/no-such-secret");
        }
        other => panic!("expected a read error, got {other:?}"),
    }
}
