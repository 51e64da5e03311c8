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
        let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL {url}: {e}"))?;
        let request = async {
            let response = self.client.get(uri).await.map_err(|e| format!("GET {url}: {e}"))?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.map_err(|e| format!("GET {url}: {e}"))?.to_bytes();
            let json = serde_json::from_slice(&body).map_err(|e| format!("GET {url}: answer is not JSON: {e}"))?;
            Ok((status, json))
        };
        tokio::time::timeout(self.timeout, request).await.map_err(|_| format!("GET {url}: no answer within {:?}", self.timeout))?
    }
}
