//! `[dynamo]` configuration.

use serde::Deserialize;

/// One access key the server accepts when verifying SigV4 signatures.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The access key id clients sign with (`AKIA…`).
    pub access_key_id: String,
    /// The matching secret key.
    pub secret_access_key: String,
}

/// The DynamoDB front end's settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DynamoConfig {
    /// Address to listen on (`HOST:PORT`).
    pub addr: String,
    /// Accepted credentials; empty means signatures are not checked (like
    /// DynamoDB Local), so any client with fake credentials works.
    pub credentials: Vec<Credential>,
    /// The region reported in table ARNs; with `credentials`, also the region a
    /// signature's credential scope must name.
    pub region: String,
}

impl Default for DynamoConfig {
    fn default() -> Self {
        DynamoConfig {
            addr: "127.0.0.1:8000".into(),
            credentials: Vec::new(),
            region: "us-east-1".into(),
        }
    }
}

impl DynamoConfig {
    /// Checks that the settings make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.addr.parse::<std::net::SocketAddr>().is_err() && !self.addr.contains(':') {
            return Err(format!("dynamo addr {:?} is not HOST:PORT", self.addr));
        }
        if self.region.is_empty() {
            return Err("dynamo region must not be empty".into());
        }
        for c in &self.credentials {
            if c.access_key_id.is_empty() || c.secret_access_key.is_empty() {
                return Err(
                    "dynamo credentials need a non-empty access_key_id and secret_access_key"
                        .into(),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_toml_and_validates() {
        let c: DynamoConfig = toml::from_str(
            "addr = \"127.0.0.1:9000\"\ncredentials = [{ access_key_id = \"a\", secret_access_key = \"b\" }]\n",
        )
        .unwrap();
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.credentials.len(), 1);
        assert!(c.validate().is_ok());
        assert!(toml::from_str::<DynamoConfig>("port = 1").is_err());
        let d: DynamoConfig = toml::from_str("").unwrap();
        assert_eq!(d, DynamoConfig::default());
        let bad = DynamoConfig {
            region: String::new(),
            ..DynamoConfig::default()
        };
        assert!(bad.validate().is_err());
        let bad = DynamoConfig {
            addr: "nowhere".into(),
            ..DynamoConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
