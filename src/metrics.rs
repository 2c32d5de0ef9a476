//! What `GET /metrics` reports, in Prometheus text: requests and their
//! latencies per route, transitions fired and refused, failed sign-ins, and
//! the background jobs.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    pub workflow: String,
    pub transition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    pub transition: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: String,
    pub outcome: String,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    transitions: Family<TransitionLabels, Counter>,
    refusals: Family<RefusalLabels, Counter>,
    failed_sign_ins: Counter,
    jobs: Family<JobLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 4 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("caseflow");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let transitions = Family::<TransitionLabels, Counter>::default();
        let refusals = Family::<RefusalLabels, Counter>::default();
        let failed_sign_ins = Counter::default();
        let jobs = Family::<JobLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            latency.clone(),
        );
        registry.register(
            "transitions",
            "Transitions fired and persisted",
            transitions.clone(),
        );
        registry.register(
            "transitions_refused",
            "Transitions refused, by refusal code",
            refusals.clone(),
        );
        registry.register(
            "failed_sign_ins",
            "Sign-ins refused for a wrong e-mail or password",
            failed_sign_ins.clone(),
        );
        registry.register("jobs", "Background jobs run, by outcome", jobs.clone());
        Self {
            registry,
            requests,
            latency,
            transitions,
            refusals,
            failed_sign_ins,
            jobs,
        }
    }
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    pub fn transition(&self, workflow: &str, transition: &str) {
        self.transitions
            .get_or_create(&TransitionLabels {
                workflow: workflow.to_owned(),
                transition: transition.to_owned(),
            })
            .inc();
    }

    /// `transition` must be a declared name: callers map unknown ones to
    /// one label so a client cannot grow the label set without bound.
    pub fn refusal(&self, transition: &str, code: &str) {
        self.refusals
            .get_or_create(&RefusalLabels {
                transition: transition.to_owned(),
                code: code.to_owned(),
            })
            .inc();
    }

    pub fn failed_sign_in(&self) {
        self.failed_sign_ins.inc();
    }

    pub fn job(&self, job: &str, outcome: &str) {
        self.jobs
            .get_or_create(&JobLabels {
                job: job.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The Prometheus text exposition of everything above.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
