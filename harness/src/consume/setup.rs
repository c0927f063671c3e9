//! Setting up the consumer: opens the run's stream and creates the consumer the plan asks for
//! (a durable pull consumer with explicit acks, or an ordered consumer), as a stream of messages.

use async_nats::jetstream::{self, consumer, stream::Stream};
use futures::stream::BoxStream;
use futures::StreamExt;

use super::ConsumeSetup;
use crate::scenario::ConsumerKind;

/// The messages to consume, and what the drain check needs to know about their consumer.
pub(super) struct Source {
    /// The durable consumer (to ask the server what is left), `None` for an ordered one.
    pub durable: Option<consumer::PullConsumer>,
    pub messages: BoxStream<'static, Result<jetstream::Message, String>>,
    /// What the server had for an ordered consumer when it was created (its drain check starts
    /// from it: a run that stored nothing is drained at once); `u64::MAX` when unknown.
    pub initial_pending: u64,
}

impl Source {
    /// Opens the stream and creates the consumer. The error says what could not be done.
    pub(super) async fn open(setup: &ConsumeSetup) -> Result<Source, String> {
        let stream = setup
            .js
            .get_stream(&setup.stream)
            .await
            .map_err(|e| format!("cannot open stream {}: {e}", setup.stream))?;
        match setup.plan.consumer {
            ConsumerKind::Durable => durable(&stream, setup).await,
            ConsumerKind::Ordered => ordered(&stream, setup).await,
        }
    }
}

/// A durable pull consumer: explicit acks, redelivery after `ack_wait`.
async fn durable(stream: &Stream, setup: &ConsumeSetup) -> Result<Source, String> {
    let plan = &setup.plan;
    let c = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(setup.name.clone()),
            filter_subject: setup.filter.clone(),
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: plan.ack_wait,
            max_ack_pending: plan.max_ack_pending,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("cannot create the durable consumer: {e}"))?;
    let m = c
        .stream()
        .max_messages_per_batch(plan.fetch_batch)
        .messages()
        .await
        .map_err(|e| format!("cannot pull from the durable consumer: {e}"))?;
    Ok(Source {
        durable: Some(c),
        messages: m.map(|r| r.map_err(|e| e.to_string())).boxed(),
        initial_pending: u64::MAX,
    })
}

/// An ordered consumer: no acks, the client resets it on a gap.
async fn ordered(stream: &Stream, setup: &ConsumeSetup) -> Result<Source, String> {
    let c = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: setup.filter.clone(),
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("cannot create the ordered consumer: {e}"))?;
    let initial_pending = c.cached_info().num_pending;
    let m = c
        .messages()
        .await
        .map_err(|e| format!("cannot read from the ordered consumer: {e}"))?;
    Ok(Source {
        durable: None,
        messages: m.map(|r| r.map_err(|e| e.to_string())).boxed(),
        initial_pending,
    })
}
