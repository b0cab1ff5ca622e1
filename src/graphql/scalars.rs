//! Scalars and small shared object types.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value};

/// A 64-bit integer (GraphQL's `Int` is 32 bits). Serialized as a JSON number; values stay below 2^53.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Long(pub i64);

/// Largest integer a JavaScript client reads exactly.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

#[Scalar(name = "Long")]
impl ScalarType for Long {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n
                .as_i64()
                .filter(|v| v.abs() <= MAX_SAFE_INTEGER)
                .map(Long)
                .ok_or_else(|| InputValueError::custom("Long must be a whole number within ±2^53")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

/// An amount of money: integer minor units (cents) and an ISO 4217 currency code. Never floating point.
#[derive(Debug, Clone, SimpleObject)]
pub struct Money {
    /// Amount in minor units, e.g. 1299 for 12.99 USD.
    pub amount: Long,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    /// Human-readable form, e.g. `12.99 USD`.
    pub formatted: String,
}

impl Money {
    pub fn new(amount_minor: i64, currency: &str) -> Money {
        Money {
            amount: Long(amount_minor),
            currency: currency.to_string(),
            formatted: format_money(amount_minor, currency),
        }
    }
}

/// Currencies without minor units; every other currency is taken to have two decimals.
const ZERO_DECIMAL_CURRENCIES: &[&str] = &["JPY", "KRW", "VND", "CLP", "ISK", "UGX"];

pub fn format_money(amount_minor: i64, currency: &str) -> String {
    if ZERO_DECIMAL_CURRENCIES.contains(&currency) {
        return format!("{amount_minor} {currency}");
    }
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_minor_units() {
        assert_eq!(format_money(1299, "USD"), "12.99 USD");
        assert_eq!(format_money(5, "EUR"), "0.05 EUR");
        assert_eq!(format_money(-250, "USD"), "-2.50 USD");
        assert_eq!(format_money(1500, "JPY"), "1500 JPY");
    }
}
