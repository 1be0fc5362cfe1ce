use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::*;

const AUDIENCE: &str = "tenure-orders";

fn setup() -> (TokenSigner, TokenVerifier, Ed25519KeyPair) {
    let keys = Ed25519KeyPair::generate().expect("key");
    let signer = TokenSigner::ed25519("tenure-dev", "dev-1", &keys).expect("signer");
    let settings = AuthSettings {
        issuers: vec![IssuerSettings {
            issuer: "tenure-dev".into(),
            algorithm: TokenAlgorithm::EdDSA,
            keys: vec![VerificationKey {
                kid: "dev-1".into(),
                public_key_pem: keys.public_pem().into(),
            }],
            max_lifetime_secs: 3600,
            roles: vec![Role::Customer, Role::Operator, Role::Billing],
        }],
        leeway_secs: 30,
    };
    (
        signer,
        TokenVerifier::new(&settings).expect("verifier"),
        keys,
    )
}

fn customer_token(signer: &TokenSigner, issued_at: u64, lifetime: u64) -> String {
    signer
        .sign(&TokenGrant {
            subject: "user-1",
            role: Role::Customer,
            audiences: &[AUDIENCE],
            tenant_id: Some(Uuid::nil()),
            permissions: &[],
            issued_at,
            lifetime: Duration::from_secs(lifetime),
        })
        .expect("sign")
}

#[test]
fn a_valid_customer_token_yields_its_tenant() {
    let (signer, verifier, _) = setup();
    let principal = verifier
        .verify(&customer_token(&signer, unix_now(), 600), AUDIENCE)
        .expect("valid");
    assert_eq!(principal.role, Role::Customer);
    assert_eq!(principal.tenant_id, Some(Uuid::nil()));
}

#[test]
fn tokens_are_refused_for_every_broken_property() {
    let (signer, verifier, _) = setup();
    let now = unix_now();
    let good = customer_token(&signer, now, 600);
    assert_eq!(
        verifier.verify(&good, "tenure-accounts"),
        Err(AuthFailure::WrongAudience)
    );
    assert_eq!(
        verifier.verify(&customer_token(&signer, now - 4000, 3600), AUDIENCE),
        Err(AuthFailure::Expired)
    );
    assert_eq!(
        verifier.verify(&customer_token(&signer, now, 7200), AUDIENCE),
        Err(AuthFailure::LifetimeTooLong)
    );
    assert_eq!(
        verifier.verify("not-a-token", AUDIENCE),
        Err(AuthFailure::Malformed)
    );
    // One flipped signature character.
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    assert!(matches!(
        verifier.verify(&tampered, AUDIENCE),
        Err(AuthFailure::BadSignature | AuthFailure::Malformed)
    ));
    // A key nobody configured.
    let stranger = Ed25519KeyPair::generate().expect("key");
    let foreign = TokenSigner::ed25519("tenure-dev", "other", &stranger).expect("signer");
    assert_eq!(
        verifier.verify(&customer_token(&foreign, now, 600), AUDIENCE),
        Err(AuthFailure::UnknownKey)
    );
    // The right kid, signed by another key.
    let forged = TokenSigner::ed25519("tenure-dev", "dev-1", &stranger).expect("signer");
    assert_eq!(
        verifier.verify(&customer_token(&forged, now, 600), AUDIENCE),
        Err(AuthFailure::BadSignature)
    );
    // A role this issuer may not assert.
    let service = signer
        .sign(&TokenGrant {
            subject: "svc:x",
            role: Role::Service,
            audiences: &[AUDIENCE],
            tenant_id: None,
            permissions: &[],
            issued_at: now,
            lifetime: Duration::from_secs(60),
        })
        .expect("sign");
    assert_eq!(
        verifier.verify(&service, AUDIENCE),
        Err(AuthFailure::RoleNotAllowed)
    );
}

#[test]
fn alg_none_and_hmac_confusion_are_refused_before_key_use() {
    let (_, verifier, keys) = setup();
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = format!(
        r#"{{"iss":"tenure-dev","sub":"u","aud":["{AUDIENCE}"],"exp":{},"iat":{},"role":"customer","tenant_id":"{}"}}"#,
        unix_now() + 60,
        unix_now(),
        Uuid::nil()
    );
    let none = format!(
        "{}.{}.",
        engine.encode(r#"{"alg":"none","kid":"dev-1"}"#),
        engine.encode(&claims)
    );
    assert!(verifier.verify(&none, AUDIENCE).is_err());
    // HS256 keyed with the public key, the classic confusion attack.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("dev-1".into());
    let hmac = jsonwebtoken::encode(
        &header,
        &serde_json::from_str::<serde_json::Value>(&claims).expect("json"),
        &EncodingKey::from_secret(keys.public_pem().as_bytes()),
    )
    .expect("encode");
    assert_eq!(
        verifier.verify(&hmac, AUDIENCE),
        Err(AuthFailure::AlgorithmNotAllowed)
    );
}

/// Signs arbitrary claims with the configured key, to build tokens no signer would produce.
fn signed(keys: &Ed25519KeyPair, claims: &serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("dev-1".into());
    let key = EncodingKey::from_ed_pem(keys.private_pem().as_bytes()).expect("key");
    jsonwebtoken::encode(&header, claims, &key).expect("encode")
}

#[test]
fn nbf_iss_and_missing_claims_are_enforced() {
    let (_, verifier, keys) = setup();
    let now = unix_now();
    let base = serde_json::json!({
        "iss": "tenure-dev", "sub": "user-1", "aud": [AUDIENCE],
        "exp": now + 300, "iat": now, "role": "customer",
        "tenant_id": Uuid::nil().to_string(),
    });
    assert!(verifier.verify(&signed(&keys, &base), AUDIENCE).is_ok());
    let with = |key: &str, value: serde_json::Value| {
        let mut claims = base.clone();
        claims[key] = value;
        signed(&keys, &claims)
    };
    // Not yet valid, or expired, beyond the 30 s leeway (quality.md S2 uses 31 s; a few more seconds keep
    // the check clear of a second ticking over while the test runs).
    assert_eq!(
        verifier.verify(&with("nbf", (now + 35).into()), AUDIENCE),
        Err(AuthFailure::Expired)
    );
    assert_eq!(
        verifier.verify(&with("exp", (now - 35).into()), AUDIENCE),
        Err(AuthFailure::Expired)
    );
    assert_eq!(
        verifier.verify(&with("iss", "someone-else".into()), AUDIENCE),
        Err(AuthFailure::WrongIssuer)
    );
    for missing in ["exp", "iss", "aud", "sub"] {
        let mut claims = base.clone();
        claims.as_object_mut().expect("object").remove(missing);
        assert!(
            verifier.verify(&signed(&keys, &claims), AUDIENCE).is_err(),
            "a token without {missing} was accepted"
        );
    }
    // A customer without a tenant, or a tenant that is not a UUID.
    let mut claims = base.clone();
    claims.as_object_mut().expect("object").remove("tenant_id");
    assert_eq!(
        verifier.verify(&signed(&keys, &claims), AUDIENCE),
        Err(AuthFailure::BadClaims)
    );
    assert_eq!(
        verifier.verify(&with("tenant_id", "acme".into()), AUDIENCE),
        Err(AuthFailure::BadClaims)
    );
    // Two roles at once are not a role.
    assert!(
        verifier
            .verify(
                &with("role", serde_json::json!(["customer", "operator"])),
                AUDIENCE
            )
            .is_err()
    );
}

#[test]
fn bearer_parsing_is_strict() {
    let mut headers = http::HeaderMap::new();
    assert_eq!(bearer_token(&headers), Err(AuthFailure::Missing));
    headers.insert(
        http::header::AUTHORIZATION,
        "Bearer ".parse().expect("header"),
    );
    assert_eq!(bearer_token(&headers), Err(AuthFailure::Malformed));
    headers.insert(
        http::header::AUTHORIZATION,
        "Basic abc".parse().expect("header"),
    );
    assert_eq!(bearer_token(&headers), Err(AuthFailure::Malformed));
    headers.insert(
        http::header::AUTHORIZATION,
        "bearer a.b.c".parse().expect("header"),
    );
    assert_eq!(bearer_token(&headers), Ok("a.b.c"));
}
