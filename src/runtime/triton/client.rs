//! The KServe v2 gRPC client: connects and checks the served model once, then runs blocking
//! `ModelInfer` calls (any thread; requests from several threads run concurrently on one HTTP/2
//! connection) on a process-wide tokio runtime.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use prost::bytes::Bytes;
use tonic::transport::{Channel, Endpoint};

use super::health::Backoff;
use super::proto::grpc_inference_service_client::GrpcInferenceServiceClient;
use super::proto::{
    ModelConfigRequest, ModelInferRequest, ModelMetadataRequest, ModelReadyRequest,
    ServerLiveRequest, model_infer_request, model_metadata_response::TensorMetadata,
};
use super::tensor::DataType;
use crate::error::{Error, Result};
use crate::runtime::{RemoteOptions, TensorInfo};

/// One runtime for every client of the process (two worker threads drive the connections; the
/// calling threads block on their own requests).
static RUNTIME: LazyLock<std::result::Result<tokio::runtime::Runtime, String>> =
    LazyLock::new(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sapiens:grpc")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });

/// Longest the first connection may take (the request deadline when that is shorter).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A model output as the server sent it, converted to f32.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A served model, checked at connect time.
pub struct Client {
    server: String,
    model: String,
    version: String,
    timeout: Duration,
    stub: GrpcInferenceServiceClient<Channel>,
    /// The model's inputs and outputs as the server describes them (shapes with -1 where
    /// variable, the batch dimension first when the model batches).
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    /// Largest batch the server accepts (`None`: no limit the server states; a model with
    /// `max_batch_size: 0` has a fixed batch in its shapes instead).
    pub max_batch: Option<usize>,
    health: Mutex<Backoff>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The endpoint URI for `server` (`grpc://host:port`, `http://host:port` or `host:port`).
pub fn endpoint_uri(server: &str) -> std::result::Result<String, String> {
    let rest = if let Some(r) = server.strip_prefix("grpc://") {
        r
    } else if let Some(r) = server.strip_prefix("http://") {
        r
    } else if server.starts_with("grpcs://") || server.starts_with("https://") {
        return Err("TLS (grpcs://, https://) is not supported: use grpc://host:port".into());
    } else if server.contains("://") {
        return Err("expected grpc://host:port".into());
    } else {
        server
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or("no port: expected grpc://host:port (Triton's gRPC port is 8001)")?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err("expected grpc://host:port with a port number".into());
    }
    Ok(format!("http://{rest}"))
}

impl Client {
    /// Connects to `opts.server`, checks the server is live and `model` ready, and reads the
    /// model's metadata and batching limit. Every failure names the server and the model.
    pub fn connect(opts: &RemoteOptions, model: &str) -> Result<Self> {
        let err = |msg: String| Error::Remote {
            server: opts.server.clone(),
            model: model.to_owned(),
            msg,
        };
        let rt = RUNTIME
            .as_ref()
            .map_err(|e| err(format!("cannot start the gRPC runtime: {e}")))?;
        let uri = endpoint_uri(&opts.server).map_err(err)?;
        let timeout = Duration::from_millis(opts.request_timeout_ms.max(1));
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|e| err(format!("invalid address: {e}")))?
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5));
        let channel = {
            let _guard = rt.enter();
            endpoint.connect_lazy()
        };
        let stub = GrpcInferenceServiceClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        let mut client = Self {
            server: opts.server.clone(),
            model: model.to_owned(),
            version: opts.model_version.clone(),
            timeout,
            stub,
            inputs: Vec::new(),
            outputs: Vec::new(),
            max_batch: None,
            health: Mutex::new(Backoff::default()),
            next_id: AtomicU64::new(1),
        };
        client.check()?;
        Ok(client)
    }

    /// Live, ready, metadata, config.
    fn check(&mut self) -> Result<()> {
        let live = self
            .call(|mut s| async move { s.server_live(ServerLiveRequest {}).await })
            .map_err(|e| self.error(format!("cannot reach the server: {e}")))?;
        if !live.live {
            return Err(self.error("the server says it is not live".into()));
        }
        let (name, version) = (self.model.clone(), self.version.clone());
        let request = ModelReadyRequest {
            name: name.clone(),
            version: version.clone(),
        };
        let ready = self
            .call(|mut s| async move { s.model_ready(request).await })
            .map_err(|e| self.error(format!("model readiness: {e}")))?;
        if !ready.ready {
            return Err(self.error(format!(
                "the model is not ready on the server (version {}): is it in the model repository, and loaded?",
                if version.is_empty() { "latest" } else { &version }
            )));
        }
        let request = ModelMetadataRequest {
            name: name.clone(),
            version: version.clone(),
        };
        let meta = self
            .call(|mut s| async move { s.model_metadata(request).await })
            .map_err(|e| self.error(format!("model metadata: {e}")))?;
        self.inputs = meta.inputs.iter().map(describe).collect();
        self.outputs = meta.outputs.iter().map(describe).collect();
        // Triton's extension; other v2 servers may not have it (then the shapes alone decide).
        let request = ModelConfigRequest { name, version };
        self.max_batch = match self.call(|mut s| async move { s.model_config(request).await }) {
            Ok(c) => c
                .config
                .map(|c| c.max_batch_size)
                .filter(|m| *m > 0)
                .map(|m| m as usize),
            Err(e) if e.code() == tonic::Code::Unimplemented => None,
            Err(e) => return Err(self.error(format!("model config: {e}"))),
        };
        tracing::info!(server = %self.server, model = %self.model, max_batch = ?self.max_batch,
            inputs = ?self.inputs, outputs = ?self.outputs, "remote model ready");
        Ok(())
    }

    /// Runs `n` items of `item_shape` (`data.len() == n * product(item_shape)`) on `input`,
    /// returning `outputs` in the order asked. Fails at once while the server is lost and its
    /// next try is not due (see [`Backoff`]); never waits longer than the request deadline.
    pub fn infer(
        &self,
        input: &str,
        data: &[f32],
        n: usize,
        item_shape: &[usize],
        outputs: &[&str],
    ) -> Result<Vec<HostTensor>> {
        let (held, failures) = {
            let health = self.health();
            (health.hold(Instant::now()), health.failures())
        };
        if let Some(wait) = held {
            return Err(self.error(format!(
                "server unreachable ({failures} failed attempts); next try in {} ms",
                wait.as_millis()
            )));
        }
        let dtype = self
            .inputs
            .iter()
            .find(|t| t.name == input)
            .and_then(|t| t.dtype)
            .filter(|d| d.is_float())
            .ok_or_else(|| self.error(format!("input '{input}' is not an FP32 or FP16 tensor")))?;
        let raw = dtype.encode(data).unwrap_or_default();
        let mut shape = vec![n as i64];
        shape.extend(item_shape.iter().map(|d| *d as i64));
        let request = ModelInferRequest {
            model_name: self.model.clone(),
            model_version: self.version.clone(),
            id: self.next_id.fetch_add(1, Ordering::Relaxed).to_string(),
            inputs: vec![model_infer_request::InferInputTensor {
                name: input.to_owned(),
                datatype: dtype.as_str().into(),
                shape,
                ..Default::default()
            }],
            outputs: outputs
                .iter()
                .map(|o| model_infer_request::InferRequestedOutputTensor {
                    name: (*o).to_owned(),
                    ..Default::default()
                })
                .collect(),
            raw_input_contents: vec![Bytes::from(raw)],
            ..Default::default()
        };
        let response = match self.call(|mut s| async move { s.model_infer(request).await }) {
            Ok(r) => {
                let failures = self.health().succeeded();
                if failures > 0 {
                    tracing::info!(server = %self.server, model = %self.model, failures, "server reached again");
                }
                r
            }
            Err(status) => {
                let lost = matches!(
                    status.code(),
                    tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
                );
                let mut msg = format!("inference failed: {status}");
                if lost {
                    let wait = self.health().failed(Instant::now());
                    msg.push_str(&format!(
                        " (server lost; next try in {} ms)",
                        wait.as_millis()
                    ));
                    tracing::warn!(server = %self.server, model = %self.model, "{msg}");
                }
                return Err(self.error(msg));
            }
        };
        outputs
            .iter()
            .map(|name| self.output(&response, name))
            .collect()
    }

    /// Output `name` of `response`, as f32.
    fn output(&self, r: &super::proto::ModelInferResponse, name: &str) -> Result<HostTensor> {
        let bad = |msg: String| Error::Output {
            name: name.to_owned(),
            msg: format!("{}: {msg}", self.describe()),
        };
        let index = r
            .outputs
            .iter()
            .position(|o| o.name == name)
            .ok_or_else(|| bad("not in the server's answer".into()))?;
        let o = &r.outputs[index];
        let shape: Vec<usize> = o.shape.iter().map(|d| (*d).max(0) as usize).collect();
        let len: usize = shape.iter().product();
        let data = match r.raw_output_contents.get(index) {
            Some(raw) => DataType::parse(&o.datatype)
                .ok_or_else(|| bad(format!("datatype {} cannot be read", o.datatype)))?
                .decode(raw)
                .ok_or_else(|| bad(format!("{} bytes of {}", raw.len(), o.datatype)))?,
            // Servers that answer with typed contents instead of raw bytes.
            None => match &o.contents {
                Some(c) if !c.fp32_contents.is_empty() => c.fp32_contents.clone(),
                Some(c) if !c.int64_contents.is_empty() => {
                    c.int64_contents.iter().map(|v| *v as f32).collect()
                }
                Some(c) => c.int_contents.iter().map(|v| *v as f32).collect(),
                None => Vec::new(),
            },
        };
        if data.len() != len {
            return Err(bad(format!(
                "{} values for shape {shape:?} ({len} expected)",
                data.len()
            )));
        }
        Ok(HostTensor { shape, data })
    }

    /// Runs one RPC to completion on the runtime, within the request deadline.
    fn call<T, F, Fut>(&self, rpc: F) -> std::result::Result<T, tonic::Status>
    where
        F: FnOnce(GrpcInferenceServiceClient<Channel>) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
    {
        let rt = RUNTIME
            .as_ref()
            .map_err(|e| tonic::Status::internal(e.clone()))?;
        let future = rpc(self.stub.clone());
        let timeout = self.timeout;
        rt.block_on(async move {
            match tokio::time::timeout(timeout, future).await {
                Ok(r) => r.map(tonic::Response::into_inner),
                Err(_) => Err(tonic::Status::deadline_exceeded(format!(
                    "no answer within {} ms (request-timeout-ms)",
                    timeout.as_millis()
                ))),
            }
        })
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Backoff> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn error(&self, msg: String) -> Error {
        Error::Remote {
            server: self.server.clone(),
            model: self.model.clone(),
            msg,
        }
    }

    /// "inference server grpc://…, model 'x'" (error messages and logs).
    pub fn describe(&self) -> String {
        format!("inference server {}, model '{}'", self.server, self.model)
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn model(&self) -> &str {
        &self.model
    }
}

/// The server's description of a tensor as the runtime's [`TensorInfo`] (FP32 and FP16 are
/// exchanged as f32, so both count as float here).
fn describe(t: &TensorMetadata) -> TensorInfo {
    let dtype = DataType::parse(&t.datatype);
    TensorInfo {
        name: t.name.clone(),
        shape: t.shape.clone(),
        is_f32: dtype.is_some_and(DataType::is_float),
        dtype,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_become_http2_uris_and_bad_ones_say_why() {
        assert_eq!(
            endpoint_uri("grpc://127.0.0.1:8001").unwrap(),
            "http://127.0.0.1:8001"
        );
        assert_eq!(
            endpoint_uri("http://triton:8001/").unwrap(),
            "http://triton:8001"
        );
        assert_eq!(
            endpoint_uri("triton.local:9000").unwrap(),
            "http://triton.local:9000"
        );
        assert!(endpoint_uri("grpcs://a:1").unwrap_err().contains("TLS"));
        assert!(
            endpoint_uri("grpc://triton")
                .unwrap_err()
                .contains("no port")
        );
        assert!(
            endpoint_uri("grpc://triton:http")
                .unwrap_err()
                .contains("port number")
        );
        assert!(
            endpoint_uri("ftp://a:1")
                .unwrap_err()
                .contains("grpc://host:port")
        );
    }

    #[test]
    fn an_unreachable_server_is_a_clear_error_naming_server_and_model() {
        // Port 1 on loopback: nothing listens (connection refused at once).
        let opts = RemoteOptions {
            server: "grpc://127.0.0.1:1".into(),
            request_timeout_ms: 2000,
            ..Default::default()
        };
        let t = Instant::now();
        let e = Client::connect(&opts, "pose").unwrap_err().to_string();
        assert!(
            e.contains("grpc://127.0.0.1:1") && e.contains("'pose'") && e.contains("cannot reach"),
            "{e}"
        );
        assert!(t.elapsed() < Duration::from_secs(10), "no long wait");
    }
}
