//! Reading one environment variable as a typed value: `vars.get::<T>("NAME", default)`. Each type says what it
//! accepts, so every refusal names the variable and what it expected.

use std::collections::HashMap;
use std::time::Duration;

use crate::config::ConfigError;

/// A value a variable can hold.
pub trait VarValue: Sized {
    /// What a valid value looks like, for the refusal message.
    const EXPECTED: &'static str;
    fn parse(text: &str) -> Option<Self>;
}

/// The variables, blank ones dropped and values trimmed.
pub struct Vars(HashMap<String, String>);

impl Vars {
    pub fn new(vars: impl IntoIterator<Item = (String, String)>) -> Vars {
        Vars(
            vars.into_iter()
                .filter(|(_, value)| !value.trim().is_empty())
                .map(|(name, value)| (name, value.trim().to_string()))
                .collect(),
        )
    }

    /// The raw text of `name`, when set.
    pub fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }

    /// `name` as a `T`, or `default` when unset; a value `T` does not accept is refused.
    pub fn get<T: VarValue>(&self, name: &str, default: T) -> Result<T, ConfigError> {
        match self.0.get(name) {
            None => Ok(default),
            Some(text) => {
                T::parse(text).ok_or_else(|| ConfigError(format!("{name} must be {} (got {text:?})", T::EXPECTED)))
            }
        }
    }

    /// Whether `name` is set to a yes (the explicit opt-ins of production).
    pub fn allows(&self, name: &str) -> bool {
        matches!(self.0.get(name).map(String::as_str), Some("true" | "1" | "yes"))
    }
}

impl VarValue for bool {
    const EXPECTED: &'static str = "on or off";

    fn parse(text: &str) -> Option<bool> {
        match text {
            "on" | "true" | "1" | "yes" => Some(true),
            "off" | "false" | "0" | "no" => Some(false),
            _ => None,
        }
    }
}

/// A count or size: a positive whole number.
impl VarValue for usize {
    const EXPECTED: &'static str = "a positive whole number";

    fn parse(text: &str) -> Option<usize> {
        text.parse::<usize>().ok().filter(|n| *n > 0)
    }
}

impl VarValue for u32 {
    const EXPECTED: &'static str = "a positive whole number";

    fn parse(text: &str) -> Option<u32> {
        text.parse::<u32>().ok().filter(|n| *n > 0)
    }
}

/// A memory budget in bytes, where 0 turns the feature off (variables named `…_BYTES` of optional caches).
#[derive(Debug, Clone, Copy)]
pub struct BytesOrOff(pub u64);

impl VarValue for BytesOrOff {
    const EXPECTED: &'static str = "a whole number of bytes (0 turns it off)";

    fn parse(text: &str) -> Option<BytesOrOff> {
        text.parse::<u64>().ok().map(BytesOrOff)
    }
}

/// A duration in whole seconds (variables named `…_SECS`).
#[derive(Debug, Clone, Copy)]
pub struct Secs(pub Duration);

impl VarValue for Secs {
    const EXPECTED: &'static str = "a positive whole number of seconds";

    fn parse(text: &str) -> Option<Secs> {
        u64::parse_positive(text).map(|n| Secs(Duration::from_secs(n)))
    }
}

/// A duration in milliseconds (variables named `…_MS`).
#[derive(Debug, Clone, Copy)]
pub struct Millis(pub Duration);

impl VarValue for Millis {
    const EXPECTED: &'static str = "a positive whole number of milliseconds";

    fn parse(text: &str) -> Option<Millis> {
        u64::parse_positive(text).map(|n| Millis(Duration::from_millis(n)))
    }
}

/// A duration in days (variables named `…_DAYS`).
#[derive(Debug, Clone, Copy)]
pub struct Days(pub Duration);

impl VarValue for Days {
    const EXPECTED: &'static str = "a positive whole number of days";

    fn parse(text: &str) -> Option<Days> {
        u64::parse_positive(text)
            .and_then(|n| n.checked_mul(86_400))
            .map(|secs| Days(Duration::from_secs(secs)))
    }
}

trait ParsePositive: Sized {
    fn parse_positive(text: &str) -> Option<Self>;
}

impl ParsePositive for u64 {
    fn parse_positive(text: &str) -> Option<u64> {
        text.parse::<u64>().ok().filter(|n| *n > 0)
    }
}

/// Declares a configuration enum read from a fixed set of words (the first word of each is how it is written
/// in docs and messages).
macro_rules! var_enum {
    ($name:ident { $($variant:ident => [$($word:literal),+]),+ $(,)? }) => {
        impl $crate::config::vars::VarValue for $name {
            const EXPECTED: &'static str = concat!("one of:", $(" ", var_enum!(@first $($word),+)),+);

            fn parse(text: &str) -> Option<$name> {
                match text {
                    $($($word)|+ => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
    (@first $first:literal $(, $rest:literal)*) => { $first };
}

pub(crate) use var_enum;

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn typed_values_and_refusals_naming_the_variable() {
        let v = vars(&[("ON", " yes "), ("N", "7"), ("ZERO", "0"), ("T", "90"), ("BLANK", "  ")]);
        assert!(v.get("ON", false).unwrap());
        assert_eq!(v.get("N", 1usize).unwrap(), 7);
        assert_eq!(v.get("MISSING", 3usize).unwrap(), 3);
        assert_eq!(v.get("BLANK", 3usize).unwrap(), 3, "blank is unset");
        assert_eq!(v.get("T", Secs(Duration::ZERO)).unwrap().0, Duration::from_secs(90));
        let refused = v.get("ZERO", 1usize).unwrap_err();
        assert!(
            refused.0.contains("ZERO") && refused.0.contains("positive"),
            "{refused}"
        );
        assert!(v.get("N", false).unwrap_err().0.contains("on or off"));
    }
}
