use tenure_db::{Backend, DatabaseSettings, DatabaseUrl};

#[test]
fn debug_and_display_never_print_the_password() {
    let url =
        DatabaseUrl::new("postgres://orders_app:s3cr%40t@db.internal:5432/tenure?sslmode=require");

    for shown in [format!("{url:?}"), url.to_string()] {
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(
            shown.contains(
                "postgres://orders_app:[redacted]@db.internal:5432/tenure?sslmode=require"
            ),
            "{shown}"
        );
    }
    assert!(url.expose().contains("s3cr%40t"));
}

#[test]
fn a_password_in_the_query_or_with_stray_characters_is_redacted_too() {
    let in_query =
        DatabaseUrl::new("postgres://db/tenure?user=app&password=hunter2&sslmode=disable");
    assert_eq!(
        in_query.to_string(),
        "postgres://db/tenure?user=app&password=[redacted]&sslmode=disable"
    );
    let careless = DatabaseUrl::new("postgres://app:pa/ss@w@rd@db/tenure");
    assert!(!careless.to_string().contains("pa/ss"), "{careless}");
    let settings = DatabaseSettings {
        url: careless,
        ..DatabaseSettings::default()
    };
    assert!(!format!("{settings:?}").contains("rd@db"), "{settings:?}");
}

#[test]
fn urls_without_passwords_show_unchanged() {
    for text in [
        "postgres://postgres@127.0.0.1:5432/postgres",
        "sqlite://data/orders.db",
        "sqlite:///var/lib/tenure/orders.db?mode=rwc",
    ] {
        assert_eq!(DatabaseUrl::new(text).to_string(), text);
    }
}

#[test]
fn urls_can_point_at_another_database_or_role() {
    let admin = DatabaseUrl::new("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable");

    let test = admin
        .with_database("t_1")
        .with_credentials("t_1_app", "p@ss word");

    assert_eq!(
        test.expose(),
        "postgres://t_1_app:p%40ss%20word@127.0.0.1:5432/t_1?sslmode=disable"
    );
    assert_eq!(
        DatabaseUrl::new("postgres://host")
            .with_database("db")
            .expose(),
        "postgres://host/db"
    );
}

#[test]
fn the_scheme_names_the_backend() {
    assert_eq!(
        DatabaseUrl::new("postgres://h/d").backend(),
        Some(Backend::Postgres)
    );
    assert_eq!(
        DatabaseUrl::new("postgresql://h/d").backend(),
        Some(Backend::Postgres)
    );
    assert_eq!(
        DatabaseUrl::new("sqlite:orders.db").backend(),
        Some(Backend::Sqlite)
    );
    assert_eq!(DatabaseUrl::new("mysql://h/d").backend(), None);
}

#[test]
fn validate_reports_every_problem_at_once() {
    let settings = DatabaseSettings {
        url: DatabaseUrl::new("mysql://h/d"),
        schema: "Orders; DROP".to_owned(),
        max_connections: 0,
        min_connections: 1,
        ..DatabaseSettings::default()
    };

    let problems = settings.validate().unwrap_err();

    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("database.url")));
    assert!(problems.iter().any(|p| p.contains("database.schema")));
}

#[test]
fn schema_names_are_plain_identifiers() {
    let with_schema = |schema: &str| DatabaseSettings {
        schema: schema.to_owned(),
        ..DatabaseSettings::embedded("orders")
    };
    for valid in ["orders", "_x", "purge_2", &"a".repeat(63)] {
        assert!(with_schema(valid).validate().is_ok(), "{valid}");
    }
    for invalid in ["", "Orders", "2fa", "data-purge", "a\"b", &"a".repeat(64)] {
        assert!(with_schema(invalid).validate().is_err(), "{invalid}");
    }
}

#[test]
fn embedded_settings_use_one_file_per_service() {
    let settings = DatabaseSettings::embedded("orders");

    assert_eq!(settings.url.expose(), "sqlite://data/orders.db");
    assert_eq!(settings.schema, "orders");
    assert!(settings.validate().is_ok());
}

#[test]
fn settings_round_trip_through_configuration_with_defaults_for_missing_fields() {
    let value = serde_json::to_value(DatabaseSettings::embedded("orders")).unwrap();
    assert_eq!(value["url"], "sqlite://data/orders.db");

    let parsed: DatabaseSettings = serde_json::from_value(serde_json::json!({
        "url": "postgres://orders_app:pw@db/tenure",
        "schema": "orders",
    }))
    .unwrap();

    assert_eq!(parsed.url.expose(), "postgres://orders_app:pw@db/tenure");
    assert_eq!(parsed.max_connections, 10);
    assert_eq!(parsed.statement_timeout_ms, 30_000);
    let typo = serde_json::from_value::<DatabaseSettings>(serde_json::json!({ "shema": "x" }));
    assert!(typo.is_err());
}
