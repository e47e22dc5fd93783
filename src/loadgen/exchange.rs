//! Simulated HTTP exchanges: what the services' log records and spans
//! describe. Log records and server spans are built from the same
//! exchanges so their attributes look alike (OpenTelemetry HTTP semantic
//! conventions), with the skew real traffic has: mostly `GET` and 2xx,
//! a tail of slow requests, errors that take longer.

use std::time::Duration;

use crate::bench::payload::Rng;

/// `(route template, what replaces `{id}`)`.
const ROUTES: &[(&str, IdKind)] = &[
    ("/api/v1/cart/{id}", IdKind::Number),
    ("/api/v1/products/{id}", IdKind::Sku),
    ("/api/v1/orders/{id}/items", IdKind::Number),
    ("/api/v1/users/me", IdKind::None),
    ("/api/v1/search", IdKind::Query),
    ("/api/v1/checkout", IdKind::None),
    ("/api/v1/recommendations", IdKind::Query),
    ("/api/v1/payments/{id}/capture", IdKind::Uuid),
    ("/healthz", IdKind::None),
    ("/static/{id}", IdKind::Asset),
];

#[derive(Clone, Copy)]
enum IdKind {
    None,
    Number,
    Sku,
    Uuid,
    Query,
    Asset,
}

/// Weighted towards success; 4xx and 5xx are a few percent each.
const STATUSES: &[u16] = &[
    200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201, 204, 304, 400, 401, 404, 429,
    500, 503,
];
const METHODS: &[&str] = &["GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"];
/// Browsers for the storefront, libraries for service-to-service calls.
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15",
    "okhttp/4.12.0",
    "Apache-HttpClient/5.2.1 (Java/21)",
    "grpc-java-netty/1.62.2",
    "Go-http-client/2.0",
    "python-requests/2.31.0",
    "curl/8.5.0",
];
const SEARCH_TERMS: &[&str] = &[
    "shoes",
    "red+dress",
    "laptop",
    "coffee+grinder",
    "usb-c+cable",
    "tent",
    "headphones",
];
const ASSETS: &[&str] = &[
    "app.js",
    "vendor.js",
    "main.css",
    "logo.svg",
    "fonts/inter.woff2",
];

/// One request a service served.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: &'static str,
    pub route: &'static str,
    pub path: String,
    pub status: u16,
    pub duration: Duration,
    pub user_agent: &'static str,
    pub client_address: String,
    pub response_bytes: u64,
}

impl Exchange {
    pub fn random(rng: &mut Rng) -> Exchange {
        let (route, id) = ROUTES[rng.below(ROUTES.len())];
        let path = match id {
            IdKind::None => route.to_string(),
            IdKind::Number => route.replace("{id}", &(rng.next() % 10_000_000).to_string()),
            IdKind::Sku => route.replace("{id}", &format!("SKU-{:06X}", rng.next() % 0xff_ffff)),
            IdKind::Uuid => {
                let (a, b) = (rng.next(), rng.next());
                let uuid = format!(
                    "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                    a >> 32,
                    (a >> 16) & 0xffff,
                    a & 0xfff,
                    b >> 48,
                    b & 0xffff_ffff_ffff
                );
                route.replace("{id}", &uuid)
            }
            IdKind::Query => format!(
                "{route}?q={}&page={}",
                rng.pick(SEARCH_TERMS),
                rng.below(5) + 1
            ),
            IdKind::Asset => route.replace("{id}", rng.pick(ASSETS)),
        };
        let status = STATUSES[rng.below(STATUSES.len())];
        Exchange {
            method: if route == "/healthz" || matches!(id, IdKind::Asset) {
                "GET"
            } else {
                rng.pick(METHODS)
            },
            route,
            path,
            status,
            duration: latency(rng, status),
            user_agent: rng.pick(USER_AGENTS),
            client_address: format!(
                "10.{}.{}.{}",
                rng.below(32),
                rng.below(256),
                rng.below(254) + 1
            ),
            response_bytes: if status == 204 || status == 304 {
                0
            } else {
                (rng.next() % 48_000) + 120
            },
        }
    }

    /// Whether the exchange is an error from the server's point of view.
    pub fn is_server_error(&self) -> bool {
        self.status >= 500
    }
}

/// Mostly a few milliseconds; one in 20 slow; errors up to several seconds.
fn latency(rng: &mut Rng, status: u16) -> Duration {
    let micros = match rng.below(20) {
        0 => 200_000 + rng.next() % 1_800_000,
        1..=4 => 20_000 + rng.next() % 180_000,
        _ => 300 + rng.next() % 20_000,
    };
    let micros = if status >= 500 { micros * 3 } else { micros };
    Duration::from_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchanges_vary_and_fill_their_routes() {
        let mut rng = Rng::new(7);
        let exchanges: Vec<Exchange> = (0..500).map(|_| Exchange::random(&mut rng)).collect();
        assert!(exchanges.iter().all(|e| !e.path.contains('{')));
        assert!(exchanges.iter().any(Exchange::is_server_error));
        let mut paths: Vec<&str> = exchanges.iter().map(|e| e.path.as_str()).collect();
        paths.sort_unstable();
        paths.dedup();
        assert!(paths.len() > 200, "only {} distinct paths", paths.len());
    }
}
