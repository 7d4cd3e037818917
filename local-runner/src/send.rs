//! `send-webhook FILE`: signs a Meta webhook body with the runner's local app secret and POSTs it
//! to the runner, as Meta would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use imcredits::meta::signature::signature_header_value;

/// Bodies Meta sends are at most 3 MiB; so are the files this sends.
const FILE_LEN_MAX: u64 = 3 * 1024 * 1024;

/// A connection to the runner on loopback `port`, reads bounded to 30 s.
pub fn connect(port: u16) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).with_context(|| {
        format!("connecting to the runner on 127.0.0.1:{port} (is it running?)")
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    Ok(stream)
}

pub fn send_webhook(port: u16, data_dir: &Path, file: &Path) -> anyhow::Result<u16> {
    let length = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    anyhow::ensure!(length <= FILE_LEN_MAX, "{} is over 3 MiB", file.display());
    let body = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let secret = crate::secrets::meta_app_secret(data_dir)?;
    let signature = signature_header_value(&secret, &body);
    let mut stream = connect(port)?;
    write!(
        stream,
        "POST /webhooks/meta HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         X-Hub-Signature-256: {signature}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    let mut response = String::new();
    stream.take(64 * 1024).read_to_string(&mut response)?;
    response
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .context("the runner's answer has no status")
}
