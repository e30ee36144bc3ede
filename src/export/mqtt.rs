//! Publishing records to an MQTT broker (rumqttc): QoS 1 (at least once), one message per
//! frame. A broker unreachable at start is an error; one lost later is reconnected to, and the
//! messages that find the queue full meanwhile are dropped and counted.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};

use crate::error::{Error, Result};

/// Messages waiting for the network at most (a broker briefly away costs no memory beyond this).
const QUEUE: usize = 256;
/// Longest wait for the broker's answer at start, and for the queue to drain at the end.
const WAIT: Duration = Duration::from_secs(5);

/// Where to publish: `host:port/topic`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub topic: String,
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("{s}: expected HOST:PORT/TOPIC (e.g. 127.0.0.1:1883/sapiens/cam1)");
        match crate::address::host_port_path(s) {
            // Wildcards subscribe; a publisher names one topic.
            Some((host, port, topic)) if !topic.contains(['+', '#']) => {
                Ok(Self { host, port, topic })
            }
            _ => Err(bad()),
        }
    }
}

/// A connected publisher; [`Publisher::finish`] sends what is queued and disconnects.
pub struct Publisher {
    client: Client,
    target: Target,
    dropped: Arc<AtomicU64>,
    worker: Option<JoinHandle<()>>,
}

impl Publisher {
    /// Connects to the broker (waits for its answer, at most 5 s).
    pub fn connect(target: &Target, client_id: &str) -> Result<Self> {
        let mut opts = MqttOptions::new(client_id, target.host.clone(), target.port);
        opts.set_keep_alive(Duration::from_secs(10));
        let (client, mut connection) = Client::new(opts, QUEUE);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("sapiens-mqtt".into())
            .spawn(move || {
                let mut connected = false;
                for event in connection.iter() {
                    match event {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            connected = true;
                            let _ = ready_tx.send(Ok(()));
                        }
                        Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                        Ok(_) => {}
                        Err(e) if !connected => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            break;
                        }
                        Err(e) => {
                            tracing::warn!("MQTT connection lost ({e}); reconnecting");
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                }
            })
            .map_err(|e| Error::Invalid(format!("cannot start the MQTT thread: {e}")))?;
        let broker = format!("MQTT broker {}:{}", target.host, target.port);
        match ready_rx.recv_timeout(WAIT) {
            Ok(Ok(())) => Ok(Self {
                client,
                target: target.clone(),
                dropped: Arc::default(),
                worker: Some(worker),
            }),
            Ok(Err(e)) => Err(Error::Invalid(format!("{broker}: {e}"))),
            Err(_) => {
                let _ = client.disconnect();
                Err(Error::Invalid(format!("{broker}: no answer in {WAIT:?}")))
            }
        }
    }

    /// Queues one message on the topic; a full queue (broker away) drops it, counted.
    pub fn publish(&self, payload: Vec<u8>) {
        if self
            .client
            .try_publish(self.target.topic.clone(), QoS::AtLeastOnce, false, payload)
            .is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Messages dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Sends what is queued, disconnects, and waits (at most 5 s) for that to finish.
    pub fn finish(mut self) {
        let _ = self.client.disconnect();
        if let Some(w) = self.worker.take() {
            let t = std::time::Instant::now();
            while !w.is_finished() && t.elapsed() < WAIT {
                std::thread::sleep(Duration::from_millis(10));
            }
            if w.is_finished() {
                let _ = w.join();
            } else {
                tracing::warn!("MQTT: the queue did not drain in {WAIT:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn targets_parse_and_bad_ones_name_the_form() {
        let t: Target = "127.0.0.1:1883/sapiens/cam1".parse().unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.topic.as_str()),
            ("127.0.0.1", 1883, "sapiens/cam1")
        );
        // The form itself is address.rs's test; here: the message, and no wildcard topics.
        for bad in ["h:0/x", "h:1/a/#", "h:1/+"] {
            let e = bad.parse::<Target>().unwrap_err();
            assert!(e.contains("HOST:PORT/TOPIC"), "{bad}: {e}");
        }
    }
}
