//! AWS Signature Version 4 verification of `Authorization: AWS4-HMAC-SHA256 …`.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::Credential;
use crate::error::{DynError, DynResult};

type HmacSha256 = Hmac<Sha256>;

/// The parts of a request the signature covers.
#[derive(Debug)]
pub struct SignedRequest<'a> {
    /// HTTP method (`POST`).
    pub method: &'a str,
    /// The request path (`/`).
    pub path: &'a str,
    /// The raw query string (empty for DynamoDB).
    pub query: &'a str,
    /// Every request header.
    pub headers: &'a HeaderMap,
    /// The body.
    pub body: &'a [u8],
}

struct Auth<'a> {
    key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

/// The algorithm DynamoDB accepts.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The service name a DynamoDB credential scope must carry.
const SERVICE: &str = "dynamodb";

fn incomplete(msg: &str) -> DynError {
    DynError::new("IncompleteSignatureException", msg.to_string())
}

fn missing_token() -> DynError {
    DynError::new(
        "MissingAuthenticationTokenException",
        "Request is missing Authentication Token",
    )
}

fn invalid_signature(msg: String) -> DynError {
    DynError::new("InvalidSignatureException", msg)
}

/// Splits `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`; `date` is
/// the request's `X-Amz-Date` (or `Date`) header. Errors in DynamoDB's order and
/// wording: missing parameters, then the algorithm, then the credential's shape.
fn parse_auth<'a>(h: &'a str, date: Option<&str>) -> DynResult<Auth<'a>> {
    let h_trim = h.trim();
    let (algorithm, rest) = h_trim.split_once(' ').unwrap_or((h_trim, ""));
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            cred = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            sig = Some(v);
        }
    }
    let mut msg = String::new();
    for (name, v) in [
        ("Credential", cred),
        ("Signature", sig),
        ("SignedHeaders", signed),
    ] {
        if v.is_none_or(str::is_empty) {
            msg.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if date.is_none() {
        msg.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    let (Some(cred), Some(signed_headers), Some(signature), true) =
        (cred, signed, sig, msg.is_empty())
    else {
        return Err(incomplete(&format!("{msg}Authorization={h}")));
    };
    if algorithm != ALGORITHM {
        return Err(incomplete(&format!(
            "Unsupported AWS 'algorithm': '{algorithm}' (only {ALGORITHM} for now). "
        )));
    }
    let parts: Vec<&str> = cred.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        [key_id, date, region, service, terminator] => Ok(Auth {
            key_id,
            date,
            region,
            service,
            terminator,
            signed_headers,
            signature,
        }),
        _ => Err(incomplete(&format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{cred}'"
        ))),
    }
}

/// The credential scope must name the server's region, `dynamodb`, `aws4_request`
/// and the request's date; DynamoDB reports every mismatch in one message.
fn check_scope(a: &Auth<'_>, region: &str, amz_date: &str) -> DynResult<()> {
    let mut msg = String::new();
    if a.region != region {
        msg.push_str(&format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            a.region
        ));
    }
    if a.service != SERVICE {
        msg.push_str(&format!(
            "Credential should be scoped to correct service: '{SERVICE}'. "
        ));
    }
    if a.terminator != "aws4_request" {
        msg.push_str(&format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            a.terminator
        ));
    }
    let day = amz_date.get(..8).unwrap_or(amz_date);
    if a.date != day {
        msg.push_str(&format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{day}', from '{amz_date}'.",
            a.date
        ));
    }
    if msg.is_empty() {
        Ok(())
    } else {
        Err(invalid_signature(msg))
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length.
    match HmacSha256::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn canonical_request(req: &SignedRequest<'_>, signed_headers: &str) -> String {
    let mut headers = String::new();
    for name in signed_headers.split(';') {
        let values: Vec<String> = req
            .headers
            .get_all(name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&values.join(","));
        headers.push('\n');
    }
    let payload = match req
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some(h) => h.to_string(),
        None => hex::encode(Sha256::digest(req.body)),
    };
    let mut query: Vec<&str> = req.query.split('&').filter(|q| !q.is_empty()).collect();
    query.sort_unstable();
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.path,
        query.join("&"),
        headers,
        signed_headers,
        payload
    )
}

/// The signature of `req` by `secret` for the scope in the request.
fn signature(req: &SignedRequest<'_>, a: &Auth<'_>, secret: &str, amz_date: &str) -> Vec<u8> {
    let scope = format!("{}/{}/{}/aws4_request", a.date, a.region, a.service);
    let creq = canonical_request(req, a.signed_headers);
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(creq.as_bytes()))
    );
    let k = hmac(format!("AWS4{secret}").as_bytes(), a.date.as_bytes());
    let k = hmac(&k, a.region.as_bytes());
    let k = hmac(&k, a.service.as_bytes());
    let k = hmac(&k, b"aws4_request");
    hmac(&k, sts.as_bytes())
}

/// Verifies `req`'s signature against `creds`, for a credential scope of
/// `region` and `dynamodb`. The checks run in DynamoDB's order: a missing
/// `Authorization` header, an incomplete one, the credential scope, the access key,
/// the signature.
pub fn verify(req: &SignedRequest<'_>, creds: &[Credential], region: &str) -> DynResult<()> {
    let Some(h) = req.headers.get("authorization") else {
        return Err(missing_token());
    };
    let h = h
        .to_str()
        .map_err(|_| incomplete("Authorization header is not ASCII"))?;
    if !h.trim_start().starts_with("AWS4-") {
        return Err(missing_token());
    }
    let amz_date = ["x-amz-date", "date"]
        .iter()
        .find_map(|n| req.headers.get(*n).and_then(|v| v.to_str().ok()));
    let a = parse_auth(h, amz_date)?;
    let amz_date = amz_date.unwrap_or_default();
    check_scope(&a, region, amz_date)?;
    let cred = creds
        .iter()
        .find(|c| c.access_key_id == a.key_id)
        .ok_or_else(|| {
            DynError::new(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        })?;
    let expected = signature(req, &a, &cred.secret_access_key, amz_date);
    let given = hex::decode(a.signature).unwrap_or_default();
    // Constant-time comparison: every byte is looked at whatever the first difference.
    let ok = given.len() == expected.len()
        && expected
            .iter()
            .zip(&given)
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0;
    if ok {
        Ok(())
    } else {
        Err(invalid_signature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
        ))
    }
}

/// Signs a request (used by tests): returns the `Authorization` header value for
/// `key_id`/`secret`, given that `req.headers` already holds `host` and `x-amz-date`.
pub fn sign(req: &SignedRequest<'_>, key_id: &str, secret: &str, region: &str) -> String {
    let amz_date = req
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let date = amz_date.get(..8).unwrap_or_default().to_string();
    let mut names: Vec<String> = req
        .headers
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k == "host" || k.starts_with("x-amz-") || k == "content-type")
        .collect();
    names.sort();
    names.dedup();
    let signed = names.join(";");
    let a = Auth {
        key_id,
        date: &date,
        region,
        service: SERVICE,
        terminator: "aws4_request",
        signed_headers: &signed,
        signature: "",
    };
    let sig = hex::encode(signature(req, &a, secret, &amz_date));
    format!(
        "AWS4-HMAC-SHA256 Credential={key_id}/{date}/{region}/dynamodb/aws4_request, SignedHeaders={signed}, Signature={sig}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn creds() -> Vec<Credential> {
        vec![Credential {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        }]
    }

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("localhost:8000"));
        h.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        h.insert(
            "x-amz-target",
            HeaderValue::from_static("DynamoDB_20120810.ListTables"),
        );
        h
    }

    #[test]
    fn verifies_own_signature_and_rejects_tampering() {
        let mut h = headers();
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &h,
            body: b"{}",
        };
        let auth = sign(
            &req,
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "us-east-1",
        );
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        let ok = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &h,
            body: b"{}",
        };
        assert!(verify(&ok, &creds(), "us-east-1").is_ok());
        let tampered = SignedRequest { body: b"{ }", ..ok };
        assert_eq!(
            verify(&tampered, &creds(), "us-east-1").unwrap_err().name,
            "InvalidSignatureException"
        );
        let other = vec![Credential {
            access_key_id: "X".into(),
            secret_access_key: "y".into(),
        }];
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &h,
            body: b"{}",
        };
        assert_eq!(
            verify(&req, &other, "us-east-1").unwrap_err().name,
            "UnrecognizedClientException"
        );
        let bare = headers();
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &bare,
            body: b"{}",
        };
        assert_eq!(
            verify(&req, &creds(), "us-east-1").unwrap_err().name,
            "MissingAuthenticationTokenException"
        );
    }

    #[test]
    fn matches_aws_reference_signing_key() {
        // AWS documentation's example: kSigning for 20150830/us-east-1/iam.
        let k = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20150830");
        let k = hmac(&k, b"us-east-1");
        let k = hmac(&k, b"iam");
        let k = hmac(&k, b"aws4_request");
        assert_eq!(
            hex::encode(k),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }
}
