//! A small HTTP client for talking to nodes from the controller (over hyper, which the
//! Docker client already uses).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// What happened, naming the request.
    pub message: String,
    /// True when the request certainly never reached the server (the connection was
    /// refused or could not be made), so it cannot have taken effect.
    pub not_sent: bool,
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<RequestError> for String {
    fn from(e: RequestError) -> String {
        e.message
    }
}

/// An HTTP/1.1 client with a per-request timeout.
#[derive(Clone)]
pub struct NodeClient {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl NodeClient {
    /// A client whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> NodeClient {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        NodeClient { client: Client::builder(TokioExecutor::new()).build(connector), timeout }
    }

    /// GETs `url` and parses the JSON answer; the error says what went wrong.
    pub async fn get_json(&self, url: &str) -> Result<(u16, serde_json::Value), RequestError> {
        self.send("GET", url, None).await
    }

    /// POSTs a JSON body to `url` and parses the JSON answer.
    pub async fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<(u16, serde_json::Value), RequestError> {
        self.send("POST", url, Some(body)).await
    }

    async fn send(&self, method: &str, url: &str, body: Option<&serde_json::Value>) -> Result<(u16, serde_json::Value), RequestError> {
        let body = Bytes::from(body.map(|b| b.to_string()).unwrap_or_default());
        let (status, answer) = self.request(method, url, &[("content-type", "application/json")], body).await?;
        let json = serde_json::from_slice(&answer).map_err(|e| RequestError { message: format!("{method} {url}: answer is not JSON: {e}"), not_sent: false })?;
        Ok((status, json))
    }

    /// Sends any request with `headers` and `body`; answers the status and the body as
    /// it came, whatever its type.
    pub async fn request(&self, method: &str, url: &str, headers: &[(&str, &str)], body: Bytes) -> Result<(u16, Bytes), RequestError> {
        let failed = |message: String, not_sent: bool| RequestError { message, not_sent };
        let mut request = hyper::Request::builder().method(method).uri(url);
        if matches!(method, "PUT" | "POST") {
            // hyper leaves the length out of an empty body, which Swift refuses (411).
            request = request.header("content-length", body.len());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body)).map_err(|e| failed(format!("bad request to {url}: {e}"), true))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| failed(format!("{method} {url}: {e}"), e.is_connect()))?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.map_err(|e| failed(format!("{method} {url}: {e}"), false))?.to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(self.timeout, exchange).await.map_err(|_| failed(format!("{method} {url}: no answer within {:?}", self.timeout), false))?
    }
}
