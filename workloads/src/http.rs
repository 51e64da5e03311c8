//! A small HTTP client for talking to nodes from the controller (over hyper, which the
//! Docker client already uses).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

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
    pub async fn get_json(&self, url: &str) -> Result<(u16, serde_json::Value), String> {
        self.send("GET", url, None).await
    }

    /// POSTs a JSON body to `url` and parses the JSON answer.
    pub async fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<(u16, serde_json::Value), String> {
        self.send("POST", url, Some(body)).await
    }

    async fn send(&self, method: &str, url: &str, body: Option<&serde_json::Value>) -> Result<(u16, serde_json::Value), String> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.map(|b| b.to_string()).unwrap_or_default())))
            .map_err(|e| format!("bad request to {url}: {e}"))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| format!("{method} {url}: {e}"))?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.map_err(|e| format!("{method} {url}: {e}"))?.to_bytes();
            let json = serde_json::from_slice(&body).map_err(|e| format!("{method} {url}: answer is not JSON: {e}"))?;
            Ok((status, json))
        };
        tokio::time::timeout(self.timeout, exchange).await.map_err(|_| format!("{method} {url}: no answer within {:?}", self.timeout))?
    }
}
