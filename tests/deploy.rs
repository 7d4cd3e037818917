//! What a deployment gets, checked offline: each samconfig environment deploys its own stage under
//! its own names, every template parameter a function reads is one its config accepts at the
//! bounds CloudFormation allows, each function builds from its own folder, every alarm has a
//! runbook, and no policy of the translated template grants a wildcard on data.

mod deploy_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use deploy_support::{Template, env_value, repo, samconfig_environment, text};
use imcredits::config::{
    ApiConfig, AutoRechargeConfig, BillingConfig, ConfigError, PaymentsConfig, StoreConfig,
    WebhookConfig,
};
use imcredits::ports::metrics::Metric;

const ENVIRONMENTS: [&str; 2] = ["dev", "prod"];

#[test]
fn each_environment_deploys_its_own_stage_under_its_own_names() {
    let template = Template::load();
    assert!(
        template.parameter("Stage").get("Default").is_none(),
        "Stage must have no default: a deploy that lost it must fail, not become dev"
    );
    let samconfig = repo::read("samconfig.toml");
    let mut names_by_env = BTreeMap::new();
    for env in ENVIRONMENTS {
        let deploy = samconfig_environment(&samconfig, env);
        assert_eq!(deploy.stack_name, format!("imcredits-{env}"), "{env}");
        assert_eq!(deploy.overrides.get("Stage").map(String::as_str), Some(env));
        assert!(
            deploy.template_file.is_none(),
            "[{env}] names a template_file: sam deploy would package the unbuilt source template"
        );
        let declared: BTreeSet<String> = template.parameters().into_keys().collect();
        let given: BTreeSet<String> = deploy.overrides.keys().cloned().collect();
        assert_eq!(
            declared, given,
            "[{env}] must set every template parameter and nothing else"
        );
        let names = template.resource_names(&deploy.overrides);
        assert!(names.contains(&format!("imcredits-{env}")), "{names:?}");
        for name in &names {
            assert!(
                name.contains(&format!("imcredits-{env}")),
                "{name} does not carry the stage {env}"
            );
        }
        names_by_env.insert(env, names);
    }
    let shared: Vec<_> = names_by_env["dev"]
        .intersection(&names_by_env["prod"])
        .collect();
    assert!(shared.is_empty(), "dev and prod share {shared:?}");
    let default = samconfig
        .get("default")
        .and_then(|table| table.get("deploy"));
    assert!(
        default.is_none(),
        "a [default.deploy] table would let a bare `sam deploy` pick a stage"
    );
}

#[test]
fn the_readme_deploys_with_an_environment_and_no_command_line_overrides() {
    let readme = repo::read_text("README.md");
    let deploys: Vec<&str> = readme
        .lines()
        .filter(|line| line.trim_start().starts_with("sam deploy"))
        .collect();
    assert!(!deploys.is_empty(), "the README shows no sam deploy");
    for line in deploys {
        assert!(line.contains("--config-env "), "{line}");
        assert!(
            !line.contains("--parameter-overrides"),
            "{line}: replaces samconfig's parameters, Stage included"
        );
    }
}

/// A function's config, run on an environment: what the function does at cold start.
type ColdStart = fn(&dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError>;

fn cold_start_of(function: &str) -> ColdStart {
    match function {
        "CheckoutFunction" => |lookup| {
            StoreConfig::from_lookup(lookup)?;
            ApiConfig::from_lookup(lookup)?;
            PaymentsConfig::from_lookup(lookup).map(drop)
        },
        "WebhookFunction" => |lookup| WebhookConfig::from_lookup(lookup).map(drop),
        "BillingFunction" => |lookup| {
            StoreConfig::from_lookup(lookup)?;
            BillingConfig::from_lookup(lookup).map(drop)
        },
        "AutoRechargeFunction" => |lookup| {
            StoreConfig::from_lookup(lookup)?;
            AutoRechargeConfig::from_lookup(lookup).map(drop)
        },
        "NotificationsFunction" => |lookup| {
            StoreConfig::from_lookup(lookup)?;
            imcredits::notices_setup::NotificationsConfig::from_lookup(lookup).map(drop)
        },
        other => panic!("{other}: add its config to tests/deploy.rs (cold_start_of)"),
    }
}

/// Secrets the functions read from Secrets Manager (the template passes only their ARNs).
fn secret_sample(name: &str) -> Option<String> {
    match name {
        "STRIPE_SECRET_KEY" => Some("sk_test_51Hx0sample".into()),
        "STRIPE_WEBHOOK_SECRETS" => Some("whsec_sample".into()),
        "META_APP_SECRET" | "META_VERIFY_TOKEN" => Some("sample".into()),
        _ => None,
    }
}

#[test]
fn every_value_cloudformation_accepts_is_one_the_functions_accept() {
    let template = Template::load();
    for (function, variables) in template.function_environments() {
        let cold_start = cold_start_of(&function);
        let base: BTreeMap<String, Option<String>> = variables
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    env_value(&template, value, &template.default_parameters()),
                )
            })
            .collect();
        let run = |env: &BTreeMap<String, Option<String>>| {
            cold_start(&|name: &str| {
                env.get(name)
                    .cloned()
                    .flatten()
                    .or_else(|| secret_sample(name))
            })
        };
        run(&base).unwrap_or_else(|error| panic!("{function} with the defaults: {error}"));
        for (variable, value) in &variables {
            for parameter in template.parameters_in(value) {
                for sample in template.boundary_samples(&parameter) {
                    let mut parameters = template.default_parameters();
                    parameters.insert(parameter.clone(), sample.clone());
                    let mut env = base.clone();
                    env.insert(variable.clone(), env_value(&template, value, &parameters));
                    if let Err(error) = run(&env) {
                        panic!(
                            "{parameter}={sample} passes CloudFormation but {function} refuses \
                             {variable}: {error}"
                        );
                    }
                }
                let numeric = {
                    let mut env = base.clone();
                    env.insert(variable.clone(), Some("1".into()));
                    let one = run(&env).is_ok();
                    env.insert(variable.clone(), Some("x".into()));
                    one && run(&env).is_err()
                };
                if numeric {
                    let declared = template.parameter(&parameter);
                    assert!(
                        text(declared.get("Type")) == Some("Number")
                            && declared.get("MinValue").is_some()
                            && declared.get("MaxValue").is_some(),
                        "{parameter} feeds the number {variable} of {function}: it must be a \
                         Number with MinValue and MaxValue"
                    );
                }
            }
        }
    }
}

#[test]
fn each_function_builds_from_its_own_folder_and_its_cache_sees_its_inputs() {
    let template = Template::load();
    let root = repo::root();
    let functions = template.functions();
    assert!(functions.len() >= 4, "{functions:?}");
    for (logical_id, binary, code_uri) in functions {
        assert_eq!(code_uri, format!("../functions/{binary}"), "{logical_id}");
        let folder = root.join("functions").join(&binary);
        for (link, target) in [
            ("shared", "shared"),
            ("workspace.toml", "Cargo.toml"),
            ("workspace.lock", "Cargo.lock"),
        ] {
            let path = folder.join(".build-inputs").join(link);
            let resolved = path
                .canonicalize()
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            assert_eq!(resolved, root.join(target).canonicalize().unwrap());
        }
        // Its only path dependency is the shared crate, which the links cover.
        let manifest = repo::read(&format!("functions/{binary}/Cargo.toml"));
        let dependencies = manifest["dependencies"].as_table().unwrap();
        for (name, _) in dependencies.iter() {
            let workspace_entry = repo::read("Cargo.toml")["workspace"]["dependencies"]
                .get(name)
                .and_then(|entry| entry.get("path"))
                .and_then(|path| path.as_str())
                .map(str::to_owned);
            if let Some(path) = workspace_entry {
                assert_eq!(path, "shared", "{binary} depends on {name} at {path}");
            }
        }
    }
    let workspace = repo::read("Cargo.toml");
    let default_members: Vec<&str> = workspace["workspace"]["default-members"]
        .as_array()
        .expect("default-members")
        .iter()
        .filter_map(|member| member.as_str())
        .collect();
    for (logical_id, binary, _) in template.functions() {
        assert!(
            default_members.contains(&format!("functions/{binary}").as_str()),
            "{logical_id}: functions/{binary} is not in default-members, so a bare `cargo build` \
             (and `cargo lambda build` at the root) leaves it out"
        );
    }
    for heavy in ["tests", "local-runner"] {
        assert!(
            !default_members.contains(&heavy),
            "{heavy} in default-members unifies its features into every function build"
        );
    }
}

#[test]
fn every_alarm_has_a_runbook_and_every_queue_of_last_resort_an_alarm() {
    let template = Template::load();
    let operations = repo::read_text("docs/operations.md");
    let anchors: BTreeSet<String> = operations
        .lines()
        .filter_map(|line| line.strip_prefix("### "))
        .map(deploy_support::anchor)
        .collect();
    let alarms = template.resources_of("AWS::CloudWatch::Alarm");
    let metric_names: BTreeSet<&str> = Metric::ALL.iter().map(|metric| metric.name()).collect();
    let mut watched = BTreeSet::new();
    for (id, properties) in &alarms {
        let description = text(properties.get("AlarmDescription"))
            .unwrap_or_else(|| panic!("{id} has no AlarmDescription"));
        let anchor = description
            .split("docs/operations.md#")
            .nth(1)
            .unwrap_or_else(|| panic!("{id}: the description names no runbook section"))
            .trim_end_matches('.');
        assert!(
            anchors.contains(anchor),
            "{id}: no `### ` section for #{anchor}"
        );
        if let Some(namespace) = properties.get("Namespace").and_then(Template::sub_text)
            && namespace == "imcredits/${Stage}"
        {
            let name = text(properties.get("MetricName")).unwrap();
            assert!(
                metric_names.contains(name),
                "{id}: {name} is no Metric the code emits"
            );
        }
        watched.extend(template.referenced_ids(properties));
    }
    for queue in template.queues_of_last_resort() {
        assert!(watched.contains(&queue), "no alarm watches {queue}");
        assert_eq!(
            text(template.resource(&queue).get("DeletionPolicy")),
            Some("Retain"),
            "{queue} holds what failed: keep it when the stack goes"
        );
    }
    for (id, _, _) in template.functions() {
        for metric in ["Errors", "Throttles"] {
            let found = alarms.iter().any(|(_, properties)| {
                text(properties.get("MetricName")) == Some(metric)
                    && template.referenced_ids(properties).contains(&id)
            });
            assert!(found, "{id} has no {metric} alarm");
        }
    }
}

#[test]
fn no_policy_of_the_translated_template_grants_a_wildcard_on_data() {
    let python = deploy_support::tools_python();
    let check = |template: &str| {
        std::process::Command::new(&python)
            .arg(repo::root().join("scripts/check-policies"))
            .arg(repo::root().join(template))
            .output()
            .expect("runs scripts/check-policies")
    };
    let ours = check("infra/template.yaml");
    assert!(
        ours.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&ours.stderr)
    );
    // The check itself can fail: a template with each kind of grant it must refuse.
    let loose = check("tests/fixtures/wildcard-policies.yaml");
    let said = String::from_utf8_lossy(&loose.stdout);
    assert_eq!(loose.status.code(), Some(1), "{said}");
    for expected in [
        "dynamodb:GetItem on *",
        "sqs:SendMessage on arn:named:sqs:named:named:*",
        "wildcard action sqs:*",
        "AWSLambdaSQSQueueExecutionRole",
        "AWSLambdaBasicExecutionRole",
        "5 finding(s)",
    ] {
        assert!(said.contains(expected), "{expected} not in {said}");
    }
    assert!(!said.contains("xray"), "{said}");
}

#[test]
fn the_webhook_has_its_own_throttle() {
    let template = Template::load();
    let api = template.resource("HttpApi");
    let route = &api["Properties"]["RouteSettings"]["POST /webhooks/meta"];
    let default = &api["Properties"]["DefaultRouteSettings"];
    let rate = |settings: &serde_norway::Value| settings["ThrottlingRateLimit"].as_u64().unwrap();
    assert!(
        rate(route) >= 10 * rate(default),
        "{route:?} vs {default:?}"
    );
    assert!(Path::new(&repo::root().join("docs/operations.md")).exists());
}

/// The files SAM's build cache hashes for a function, walked as `samcli.lib.utils.hash.dir_checksum`
/// walks a CodeUri: links followed, `.aws-sam` skipped. Bounded: a link loop or a link to the
/// repository root shows up as too many files instead of a hang.
fn files_sam_hashes(code_dir: &Path) -> Vec<std::path::PathBuf> {
    const FILES_MAX: usize = 5_000;
    let (mut files, mut folders) = (Vec::new(), vec![code_dir.to_path_buf()]);
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|name| name == ".aws-sam") {
                continue;
            }
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path.strip_prefix(code_dir).unwrap().to_path_buf());
            }
            assert!(
                files.len() + folders.len() < FILES_MAX,
                "{}",
                code_dir.display()
            );
        }
    }
    files
}

#[test]
fn sam_hashes_each_functions_sources_and_nothing_a_build_writes() {
    // A build writes target/ (cargo), .tools/ and .local-data/ (tests, runner): if SAM hashed any
    // of them, the second `sam build` would never find its cache (scripts/sam-build-twice).
    let written_by_builds = ["target", ".tools", ".local-data", "node_modules"];
    for (logical_id, binary, _) in Template::load().functions() {
        let files = files_sam_hashes(&repo::root().join("functions").join(&binary));
        for file in &files {
            assert!(
                !file.components().any(|part| written_by_builds
                    .iter()
                    .any(|name| part.as_os_str() == *name)),
                "{logical_id}: SAM would hash {}",
                file.display()
            );
        }
        for input in [
            "src/main.rs",
            "Cargo.toml",
            ".build-inputs/shared/src/lib.rs",
            ".build-inputs/shared/Cargo.toml",
            ".build-inputs/workspace.toml",
            ".build-inputs/workspace.lock",
        ] {
            assert!(
                files.iter().any(|file| file == Path::new(input)),
                "{logical_id}: SAM does not hash {input}, so a change to it would not rebuild"
            );
        }
    }
}

#[test]
fn a_scheduled_function_never_retries_into_its_next_run() {
    // A retried sweep would overlap the next one, which redoes the work anyway: no retry by
    // EventBridge or by Lambda's async invoke, and a failure lands in a queue (which the alarm
    // test above requires to be watched and retained).
    let template = Template::load();
    let mut schedules = 0;
    for (id, properties) in template.resources_of("AWS::Serverless::Function") {
        let events = properties["Events"].as_mapping().cloned();
        for (name, event) in events.unwrap_or_default() {
            if text(event.get("Type")) != Some("Schedule") {
                continue;
            }
            schedules += 1;
            let retries = &event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"];
            assert_eq!(
                retries.as_u64(),
                Some(0),
                "{id}.{name:?}: EventBridge retries"
            );
            let invoke = &properties["EventInvokeConfig"];
            assert_eq!(
                invoke["MaximumRetryAttempts"].as_u64(),
                Some(0),
                "{id}: Lambda retries its scheduled invocations"
            );
            let failure = &invoke["DestinationConfig"]["OnFailure"];
            assert_eq!(text(failure.get("Type")), Some("SQS"), "{id}");
            let queues = template.referenced_ids(&failure["Destination"]);
            assert!(
                queues.iter().any(|queue| {
                    text(template.resource(queue).get("Type")) == Some("AWS::SQS::Queue")
                }),
                "{id}: a failed sweep goes nowhere"
            );
        }
    }
    assert!(schedules >= 1, "the auto-recharge sweep is a schedule");
}
