//! Reading the SAM template (YAML with CloudFormation's short-form tags such as `!Ref` and `!Sub`)
//! and samconfig.toml the way SAM CLI does, for tests/deploy.rs.

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::Value;
use serde_norway::value::TaggedValue;

pub mod repo {
    use std::path::PathBuf;

    pub fn root() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .canonicalize()
            .expect("the repository root")
    }

    pub fn read_text(path: &str) -> String {
        let path = root().join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }

    pub fn read(path: &str) -> toml_edit::DocumentMut {
        read_text(path)
            .parse()
            .unwrap_or_else(|error| panic!("{path}: {error}"))
    }
}

/// The Python of the test tools' venv (scripts/test installs it; `TOOLS_PYTHON` overrides).
pub fn tools_python() -> std::path::PathBuf {
    let python = std::env::var_os("TOOLS_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| repo::root().join(".tools/venv/bin/python3"));
    assert!(
        python.exists(),
        "{} is missing: run the tests with scripts/test, which installs it",
        python.display()
    );
    python
}

/// A tagged node's tag without `!` and its value: `!Ref X` is `("Ref", X)`; the long form
/// `{"Ref": X}` answers the same.
pub fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let TaggedValue { tag, value } = tagged.as_ref();
            let tag = tag.to_string();
            Some((tag.trim_start_matches('!').to_owned(), value))
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, value) = map.iter().next()?;
            let key = key.as_str()?;
            (key == "Ref" || key.starts_with("Fn::"))
                .then(|| (key.trim_start_matches("Fn::").to_owned(), value))
        }
        _ => None,
    }
}

pub fn text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

pub struct Template(Value);

impl Template {
    pub fn load() -> Self {
        let text = repo::read_text("infra/template.yaml");
        Self(serde_norway::from_str(&text).expect("infra/template.yaml is YAML"))
    }

    pub fn parameters(&self) -> BTreeMap<String, &Value> {
        self.0["Parameters"]
            .as_mapping()
            .expect("Parameters")
            .iter()
            .map(|(name, value)| (name.as_str().unwrap().to_owned(), value))
            .collect()
    }

    pub fn parameter(&self, name: &str) -> &Value {
        self.parameters()
            .get(name)
            .copied()
            .unwrap_or_else(|| panic!("no parameter {name}"))
    }

    pub fn default_parameters(&self) -> BTreeMap<String, String> {
        self.parameters()
            .into_iter()
            .map(|(name, declared)| {
                let value = declared
                    .get("Default")
                    .and_then(scalar)
                    .unwrap_or_else(|| sample_of(&name, declared));
                (name, value)
            })
            .collect()
    }

    pub fn resource(&self, id: &str) -> &Value {
        self.0["Resources"]
            .get(id)
            .unwrap_or_else(|| panic!("no resource {id}"))
    }

    pub fn resources_of(&self, kind: &str) -> Vec<(String, &Value)> {
        self.0["Resources"]
            .as_mapping()
            .expect("Resources")
            .iter()
            .filter(|(_, resource)| text(resource.get("Type")) == Some(kind))
            .map(|(id, resource)| (id.as_str().unwrap().to_owned(), &resource["Properties"]))
            .collect()
    }

    /// `(logical id, binary, CodeUri)` of every Rust function.
    pub fn functions(&self) -> Vec<(String, String, String)> {
        self.0["Resources"]
            .as_mapping()
            .unwrap()
            .iter()
            .filter(|(_, r)| text(r.get("Type")) == Some("AWS::Serverless::Function"))
            .map(|(id, r)| {
                let id = id.as_str().unwrap().to_owned();
                assert_eq!(
                    text(r["Metadata"].get("BuildMethod")),
                    Some("rust-cargolambda")
                );
                let binary = text(r["Metadata"]["BuildProperties"].get("Binary")).unwrap();
                let code_uri = text(r["Properties"].get("CodeUri")).unwrap_or_default();
                (id, binary.to_owned(), code_uri.to_owned())
            })
            .collect()
    }

    /// Each function's environment variables, the Globals' included.
    pub fn function_environments(&self) -> BTreeMap<String, BTreeMap<String, Value>> {
        let globals = self.0["Globals"]["Function"]["Environment"]["Variables"]
            .as_mapping()
            .cloned()
            .unwrap_or_default();
        self.resources_of("AWS::Serverless::Function")
            .into_iter()
            .map(|(id, properties)| {
                let own = properties["Environment"]["Variables"]
                    .as_mapping()
                    .cloned()
                    .unwrap_or_default();
                let variables = globals
                    .iter()
                    .chain(own.iter())
                    .map(|(name, value)| (name.as_str().unwrap().to_owned(), value.clone()))
                    .collect();
                (id, variables)
            })
            .collect()
    }

    /// Parameters a value refers to (`!Ref P`, `${P}` in `!Sub`, inside `!If`).
    pub fn parameters_in(&self, value: &Value) -> BTreeSet<String> {
        let declared = self.parameters();
        let mut found = BTreeSet::new();
        walk(value, &mut |node| {
            if let Some((tag, argument)) = intrinsic(node) {
                match (tag.as_str(), argument) {
                    ("Ref", Value::String(name)) if declared.contains_key(name) => {
                        found.insert(name.clone());
                    }
                    ("Sub", Value::String(text)) => {
                        for name in declared.keys() {
                            if text.contains(&format!("${{{name}}}")) {
                                found.insert(name.clone());
                            }
                        }
                    }
                    _ => {}
                }
            }
        });
        found
    }

    /// Logical ids a resource's properties refer to (`!Ref`, `!GetAtt`).
    pub fn referenced_ids(&self, value: &Value) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        walk(value, &mut |node| {
            if let Some((tag, argument)) = intrinsic(node) {
                let id = match (tag.as_str(), argument) {
                    ("Ref", Value::String(id)) => Some(id.clone()),
                    ("GetAtt", Value::String(path)) => path.split('.').next().map(str::to_owned),
                    ("GetAtt", Value::Sequence(parts)) => parts[0].as_str().map(str::to_owned),
                    _ => None,
                };
                found.extend(id);
            }
        });
        found
    }

    /// Queues things land in when they failed: redrive targets and failure destinations.
    pub fn queues_of_last_resort(&self) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        walk(&self.0["Resources"], &mut |node| {
            if let Some(target) = node.get("deadLetterTargetArn") {
                found.extend(self.referenced_ids(target));
            }
            if let Some(on_failure) = node.get("OnFailure") {
                found.extend(self.referenced_ids(on_failure));
            }
        });
        found
    }

    /// Every physical name the template gives (`…Name: !Sub "…"`), for these parameters.
    pub fn resource_names(&self, parameters: &BTreeMap<String, String>) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for (_, resource) in self.0["Resources"].as_mapping().unwrap() {
            let Some(properties) = resource.get("Properties").and_then(Value::as_mapping) else {
                continue;
            };
            for (key, value) in properties {
                let key = key.as_str().unwrap_or_default();
                // Physical names; not a metric, an index or the API's `$default` stage.
                let physical = key.ends_with("Name")
                    && !matches!(key, "MetricName" | "IndexName" | "StageName");
                if physical && let Some(text) = Self::sub_text(value) {
                    names.insert(substitute(&text, parameters));
                }
            }
        }
        names
    }

    /// The text of a `!Sub "…"` (or a plain string).
    pub fn sub_text(value: &Value) -> Option<String> {
        match intrinsic(value) {
            Some((tag, Value::String(text))) if tag == "Sub" => Some(text.clone()),
            None => value.as_str().map(str::to_owned),
            _ => None,
        }
    }

    /// Values at the edges of what CloudFormation accepts for a parameter.
    pub fn boundary_samples(&self, name: &str) -> Vec<String> {
        let declared = self.parameter(name);
        if let Some(allowed) = declared.get("AllowedValues").and_then(Value::as_sequence) {
            return allowed.iter().filter_map(scalar).collect();
        }
        let mut samples: Vec<String> = declared
            .get("Default")
            .and_then(scalar)
            .into_iter()
            .collect();
        for bound in ["MinValue", "MaxValue"] {
            samples.extend(declared.get(bound).and_then(scalar));
        }
        let pattern = text(declared.get("AllowedPattern")).unwrap_or_default();
        if let (Some(length_max), true) = (
            declared.get("MaxLength").and_then(Value::as_u64),
            pattern.starts_with("^https://"),
        ) {
            let base = "https://app.example.com/";
            let padding = usize::try_from(length_max).unwrap() - base.len();
            samples.push(format!("{base}{}", "a".repeat(padding)));
        }
        samples
    }

    /// Evaluates a condition of the template (`Fn::Not`, `Fn::Equals`, `Ref`).
    fn condition(&self, name: &str, parameters: &BTreeMap<String, String>) -> bool {
        let condition = &self.0["Conditions"][name];
        evaluate(condition, parameters)
    }
}

fn evaluate(value: &Value, parameters: &BTreeMap<String, String>) -> bool {
    let (tag, argument) = intrinsic(value).expect("a condition function");
    let items = argument.as_sequence().expect("arguments");
    match tag.as_str() {
        "Not" => !evaluate(&items[0], parameters),
        "Equals" => resolve(&items[0], parameters) == resolve(&items[1], parameters),
        other => panic!("condition function {other} is not evaluated here"),
    }
}

fn resolve(value: &Value, parameters: &BTreeMap<String, String>) -> Option<String> {
    match intrinsic(value) {
        Some((tag, Value::String(name))) if tag == "Ref" => parameters.get(name).cloned(),
        None => scalar(value),
        Some(_) => None,
    }
}

/// An environment variable's value as the function sees it, for these parameters: `None` when
/// `!If` picks `AWS::NoValue`. A reference to a resource becomes a plausible value of its kind.
pub fn env_value(
    template: &Template,
    value: &Value,
    parameters: &BTreeMap<String, String>,
) -> Option<String> {
    match intrinsic(value) {
        None => scalar(value),
        Some((tag, argument)) => match tag.as_str() {
            "Ref" => {
                let name = argument.as_str().unwrap();
                if name == "AWS::NoValue" {
                    return None;
                }
                if let Some(value) = parameters.get(name) {
                    return Some(value.clone());
                }
                let kind = text(template.resource(name).get("Type")).unwrap_or_default();
                Some(match kind {
                    "AWS::SQS::Queue" => {
                        format!("https://sqs.us-east-1.amazonaws.com/123456789012/{name}")
                    }
                    _ => format!("imcredits-{}", parameters["Stage"]),
                })
            }
            "Sub" => Some(substitute(argument.as_str().unwrap(), parameters)),
            "If" => {
                let items = argument.as_sequence().unwrap();
                let chosen = if template.condition(items[0].as_str().unwrap(), parameters) {
                    &items[1]
                } else {
                    &items[2]
                };
                env_value(template, chosen, parameters)
            }
            other => panic!("{other} in a function's environment is not evaluated here"),
        },
    }
}

fn substitute(text: &str, parameters: &BTreeMap<String, String>) -> String {
    let mut text = text.to_owned();
    for (name, value) in parameters {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    text
}

/// A value a parameter without a default could take (deployments give them in samconfig).
fn sample_of(name: &str, declared: &Value) -> String {
    let pattern = text(declared.get("AllowedPattern")).unwrap_or_default();
    if name == "Stage" {
        "dev".into()
    } else if pattern.contains("secretsmanager") {
        format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:imcredits/{name}")
    } else if pattern.starts_with("^https://") {
        "https://app.example.com/".into()
    } else {
        "sample".into()
    }
}

fn walk<'a>(value: &'a Value, visit: &mut impl FnMut(&'a Value)) {
    visit(value);
    match value {
        Value::Sequence(items) => items.iter().for_each(|item| walk(item, visit)),
        Value::Mapping(map) => map.values().for_each(|item| walk(item, visit)),
        Value::Tagged(tagged) => walk(&tagged.value, visit),
        _ => {}
    }
}

/// A `### Heading` as GitHub anchors it: lower case, spaces to `-`, other punctuation dropped.
pub fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// What `sam deploy --config-env ENV` reads: `[ENV.global.parameters]` overlaid with
/// `[ENV.deploy.parameters]` (SAM CLI reads no other environment's tables, `default` included).
pub struct DeployConfig {
    pub stack_name: String,
    pub template_file: Option<String>,
    /// `parameter_overrides`: a list of `Key=Value`, quotes around a value removed, as SAM does.
    pub overrides: BTreeMap<String, String>,
}

pub fn samconfig_environment(document: &toml_edit::DocumentMut, env: &str) -> DeployConfig {
    let table = document
        .get(env)
        .unwrap_or_else(|| panic!("samconfig.toml has no [{env}] tables"));
    let mut merged: BTreeMap<String, toml_edit::Item> = BTreeMap::new();
    for command in ["global", "deploy"] {
        if let Some(parameters) = table
            .get(command)
            .and_then(|c| c.get("parameters"))
            .and_then(toml_edit::Item::as_table_like)
        {
            for (key, item) in parameters.iter() {
                merged.insert(key.to_owned(), item.clone());
            }
        }
    }
    let string = |key: &str| {
        merged
            .get(key)
            .and_then(|item| item.as_str())
            .map(str::to_owned)
    };
    let list = merged
        .get("parameter_overrides")
        .and_then(toml_edit::Item::as_array)
        .unwrap_or_else(|| panic!("[{env}.deploy.parameters] parameter_overrides is not a list"));
    let mut overrides = BTreeMap::new();
    for entry in list.iter() {
        let entry = entry.as_str().expect("Key=Value strings");
        let (key, value) = entry
            .split_once('=')
            .unwrap_or_else(|| panic!("{entry} is not Key=Value"));
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
            .unwrap_or(value);
        let earlier = overrides.insert(key.to_owned(), value.to_owned());
        assert!(earlier.is_none(), "[{env}] sets {key} twice");
    }
    DeployConfig {
        stack_name: string("stack_name").unwrap_or_default(),
        template_file: string("template_file"),
        overrides,
    }
}
