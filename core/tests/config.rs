//! Options are validated once, by `ServerBuilder::build`: every option out of range is refused there
//! with a `ConfigError` naming it (the bindings only translate that error), and the defaults pass.

use ferrio::{
    CodedError, ConfigError, Cors, CorsOrigins, ErrorCode, RateLimit, Server, ServerConfig,
};
use std::time::Duration;

fn refused(builder: ferrio::ServerBuilder) -> ConfigError {
    let error = builder.build().expect_err("refused");
    assert_eq!(error.code(), ErrorCode::InvalidArgument);
    error
}

#[test]
fn the_defaults_are_valid() {
    assert!(ServerConfig::default().validate().is_ok());
    assert!(Server::builder().validate().is_ok());
    assert!(Server::builder().build().is_ok());
}

#[test]
fn every_option_out_of_range_is_refused_by_build_with_its_name() {
    let zero = Duration::ZERO;
    let cases: Vec<(ferrio::ServerBuilder, &str)> = vec![
        (
            Server::builder().ping_interval(zero),
            "ping_interval must be positive",
        ),
        (
            Server::builder().ping_timeout(zero),
            "ping_timeout must be positive",
        ),
        (
            Server::builder().ping_timeout(Duration::from_micros(500)),
            "ping_timeout must be at least 1 ms",
        ),
        (
            Server::builder().ping_interval(Duration::from_secs(30 * 24 * 3600)),
            "ping_interval must be at most 1073741823 ms (about 12 days)",
        ),
        (
            Server::builder().upgrade_timeout(zero),
            "upgrade_timeout must be positive",
        ),
        (
            Server::builder().connect_timeout(zero),
            "connect_timeout must be positive",
        ),
        (
            Server::builder().header_read_timeout(zero),
            "header_read_timeout must be positive",
        ),
        (
            Server::builder().max_payload(0),
            "max_payload must be at least 1",
        ),
        (
            Server::builder().transports(false, false),
            "transports must allow polling, websocket or both",
        ),
        (
            Server::builder().max_queued_packets(0),
            "max_queued_packets must be at least 1",
        ),
        (
            Server::builder().max_headers(0),
            "max_headers must be at least 1",
        ),
        (
            Server::builder().max_header_bytes(4096),
            "max_header_bytes must be at least 8192",
        ),
        (
            Server::builder().max_json_depth(0),
            "max_json_depth must be at least 1",
        ),
        (
            Server::builder().max_json_depth(1001),
            "max_json_depth must be at most 1000",
        ),
        (
            Server::builder().max_namespaces_per_connection(0),
            "max_namespaces_per_connection must be at least 1",
        ),
        (
            Server::builder().max_pending_acks(0),
            "max_pending_acks must be at least 1",
        ),
        (
            Server::builder().path("/socket io/"),
            "path must be a URL path without query, fragment, spaces or control characters \
             (got \"/socket io/\")",
        ),
        (
            Server::builder().path("/a?b"),
            "path must be a URL path without query, fragment, spaces or control characters \
             (got \"/a?b/\")",
        ),
        (
            Server::builder().cors(Cors::new(CorsOrigins::List(vec![
                "https://example.com".into(),
                "https://example.com/".into(),
            ]))),
            "cors origin \"https://example.com/\" is not an origin like \"https://example.com\" \
             (scheme://host[:port], no path)",
        ),
        (
            Server::builder().cors(Cors::new(CorsOrigins::List(vec!["".into()]))),
            "cors origin \"\" is not an origin like \"https://example.com\" (scheme://host[:port], \
             no path)",
        ),
        (
            Server::builder().cors(Cors::new(CorsOrigins::List(vec!["*".into()]))),
            "cors origin \"*\" is not an origin like \"https://example.com\" (scheme://host[:port], \
             no path) (any origin is CorsOrigins::Any)",
        ),
    ];
    let count = cases.len();
    for (builder, message) in cases {
        let error = refused(builder);
        assert_eq!(error.to_string(), message);
        assert!(message.starts_with(error.option));
    }
    println!("{count} options out of range, each refused by build() with its name");
}

#[test]
fn a_rate_limit_out_of_range_is_refused_and_names_the_option() {
    let error = ConfigError::from(RateLimit::new(0.0, 1).unwrap_err());
    assert_eq!(error.option, "rate_limit");
    assert_eq!(
        error.to_string(),
        "rate_limit needs events per second > 0 (finite) and a burst of at least 1"
    );
    // A limit made valid and changed afterwards is caught by build.
    let mut limit = RateLimit::new(10.0, 5).unwrap();
    limit.burst = 0;
    assert_eq!(
        refused(Server::builder().rate_limit(limit)).option,
        "rate_limit"
    );
}

#[test]
fn values_in_range_pass() {
    let mut config = ServerConfig::default();
    config.engine.path = "/".to_owned();
    config.engine.max_header_bytes = 8192;
    config.engine.max_connections = 0;
    config.engine.cors = Cors::new(CorsOrigins::List(vec![
        "https://example.com".into(),
        "http://localhost:3000".into(),
        "null".into(),
    ]));
    config.max_attachments = 0;
    config.max_json_depth = ferrio::socketio::MAX_JSON_DEPTH;
    config.connect_timeout = Duration::from_millis(1);
    assert_eq!(config.validate(), Ok(()));
    assert!(Server::with_config(config).is_ok());
    assert!(Server::builder()
        .transports(false, true)
        .rate_limit(RateLimit::new(0.5, 1).unwrap())
        .build()
        .is_ok());
}

#[test]
fn with_config_checks_too() {
    let mut config = ServerConfig::default();
    config.engine.max_payload = 0;
    let error = Server::with_config(config).expect_err("refused");
    assert_eq!(error.option, "max_payload");
    // `?` in a `main() -> std::io::Result<()>`.
    let io_error = std::io::Error::from(error);
    assert_eq!(io_error.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(io_error.to_string(), "max_payload must be at least 1");
}
