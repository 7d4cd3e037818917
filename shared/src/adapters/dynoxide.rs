//! The local runner's engine reached in process: dynoxide (a DynamoDB-compatible engine on SQLite)
//! behind the AWS SDK's HTTP client seam, so the same [`DynamoStore`](super::dynamodb::DynamoStore)
//! drives it as drives DynamoDB, and no port is opened: nothing outside this process can reach the
//! data (dynoxide's own server checks no credentials, so a loopback port would be an open door).
//!
//! The SDK builds and signs each request as for AWS; [`InProcessHttp`] hands its JSON body to the
//! engine's operation named by `X-Amz-Target` and answers the engine's JSON the way its HTTP server
//! does (status 200, or the error's status with DynamoDB's error body).

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use dynoxide::DynoxideError;
use dynoxide::actions as op;

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// DynamoDB takes request bodies up to 16 MB; so does this transport.
const REQUEST_LEN_MAX: usize = 16 * 1024 * 1024;

/// The SDK's HTTP client, answered by an engine in this process.
#[derive(Clone)]
pub struct InProcessHttp {
    database: dynoxide::Database,
}

impl std::fmt::Debug for InProcessHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcessHttp")
    }
}

impl InProcessHttp {
    pub fn new(database: dynoxide::Database) -> Self {
        Self { database }
    }

    /// A DynamoDB client whose every call goes to `database`, in this process. The endpoint is a
    /// name no resolver is ever asked about; the credentials only let the SDK sign as it always does.
    pub fn client(database: dynoxide::Database) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(Self::config(database).build())
    }

    /// The configuration [`client`](Self::client) builds, for a caller that adds to it (tests add
    /// fault interceptors).
    pub fn config(database: dynoxide::Database) -> aws_sdk_dynamodb::config::Builder {
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "in-process",
                "in-process",
                None,
                None,
                "imcredits-embedded",
            ))
            .endpoint_url("http://engine.in-process")
            .http_client(Self::new(database))
    }
}

impl HttpClient for InProcessHttp {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for InProcessHttp {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let target = request
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.strip_prefix(TARGET_PREFIX))
            .map(str::to_owned);
        let body = request.body().bytes().map(<[u8]>::to_vec);
        let database = self.database.clone();
        HttpConnectorFuture::new(async move {
            let (Some(operation), Some(body)) = (target, body) else {
                return Err(ConnectorError::other(
                    "an in-process request needs X-Amz-Target and an in-memory body".into(),
                    None,
                ));
            };
            // The engine blocks on SQLite: off the async workers, as a network call would be.
            let answer =
                tokio::task::spawn_blocking(move || answer(&database, &operation, &body)).await;
            let (status, json) = answer.map_err(|error| {
                ConnectorError::other(format!("the engine panicked: {error}").into(), None)
            })?;
            let mut response = HttpResponse::new(
                StatusCode::try_from(status).expect("the engine answers valid statuses"),
                SdkBody::from(json),
            );
            response.headers_mut().insert("content-type", CONTENT_TYPE);
            Ok(response)
        })
    }
}

/// The status and JSON body the engine's HTTP server would answer.
fn answer(database: &dynoxide::Database, operation: &str, body: &[u8]) -> (u16, String) {
    let result = if body.len() > REQUEST_LEN_MAX {
        Err(DynoxideError::ValidationException(format!(
            "the request is over {REQUEST_LEN_MAX} bytes"
        )))
    } else {
        dispatch(database, operation, body)
    };
    match result {
        Ok(json) => (200, json),
        // The engine's internal "validation, to be worded per operation" tag never leaves it.
        Err(DynoxideError::EnvelopedValidation(message)) => {
            let error = DynoxideError::ValidationException(message);
            (error.status_code(), error.to_json())
        }
        Err(error) => (error.status_code(), error.to_json()),
    }
}

fn read<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, DynoxideError> {
    serde_json::from_slice(body).map_err(|error| {
        let message = error.to_string();
        if error.is_data() {
            DynoxideError::ValidationException(message)
        } else {
            DynoxideError::SerializationException(message)
        }
    })
}

fn write<T: serde::Serialize>(response: &T) -> Result<String, DynoxideError> {
    serde_json::to_string(response)
        .map_err(|error| DynoxideError::InternalServerError(error.to_string()))
}

/// The operations the store and the tests use; any other is refused as DynamoDB refuses an
/// unknown one.
fn dispatch(
    db: &dynoxide::Database,
    operation: &str,
    body: &[u8],
) -> Result<String, DynoxideError> {
    match operation {
        "CreateTable" => {
            write(&db.create_table(read::<op::create_table::CreateTableRequest>(body)?)?)
        }
        "DescribeTable" => {
            write(&db.describe_table(read::<op::describe_table::DescribeTableRequest>(body)?)?)
        }
        "UpdateTable" => {
            write(&db.update_table(read::<op::update_table::UpdateTableRequest>(body)?)?)
        }
        "DeleteTable" => {
            write(&db.delete_table(read::<op::delete_table::DeleteTableRequest>(body)?)?)
        }
        "ListTables" => write(&db.list_tables(read::<op::list_tables::ListTablesRequest>(body)?)?),
        "GetItem" => write(&db.get_item(read::<op::get_item::GetItemRequest>(body)?)?),
        "PutItem" => write(&db.put_item(read::<op::put_item::PutItemRequest>(body)?)?),
        "UpdateItem" => write(&db.update_item(read::<op::update_item::UpdateItemRequest>(body)?)?),
        "DeleteItem" => write(&db.delete_item(read::<op::delete_item::DeleteItemRequest>(body)?)?),
        "Query" => write(&db.query(read::<op::query::QueryRequest>(body)?)?),
        "Scan" => write(&db.scan(read::<op::scan::ScanRequest>(body)?)?),
        "BatchGetItem" => {
            write(&db.batch_get_item(read::<op::batch_get_item::BatchGetItemRequest>(body)?)?)
        }
        "BatchWriteItem" => {
            write(&db.batch_write_item(read::<op::batch_write_item::BatchWriteItemRequest>(body)?)?)
        }
        "TransactWriteItems" => write(&db.transact_write_items(read::<
            op::transact_write_items::TransactWriteItemsRequest,
        >(body)?)?),
        "TransactGetItems" => write(&db.transact_get_items(read::<
            op::transact_get_items::TransactGetItemsRequest,
        >(body)?)?),
        _ => Err(DynoxideError::UnsupportedCapability(format!(
            "{operation} is not served in process"
        ))),
    }
}
