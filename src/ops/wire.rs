//! Serde forms of the domain's validated newtypes: each travels as its text
//! form and is parsed on arrival, so a request that deserializes holds only
//! valid values. The domain error of a refused field is kept for the caller.

use std::cell::RefCell;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

use crate::error::Error;

thread_local! {
    /// The domain error behind the last refused field on this thread.
    static REFUSED: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// Parse `s`, remembering the domain error (with its hint and code) when it
/// is refused; serde only carries the message.
pub fn parse<T: FromStr<Err = Error>, E: serde::de::Error>(s: &str) -> Result<T, E> {
    s.parse::<T>().map_err(refuse)
}

/// Refuse a field: serde gets the message, the decoder the whole error.
pub fn refuse<E: serde::de::Error>(e: Error) -> E {
    let msg = E::custom(&e.message);
    REFUSED.with(|r| *r.borrow_mut() = Some(e));
    msg
}

/// The domain error of the last refused field, if one is waiting.
pub fn take_refusal() -> Option<Error> {
    REFUSED.with(|r| r.borrow_mut().take())
}

/// Forget any refusal left from an earlier decode.
pub fn clear_refusal() {
    REFUSED.with(|r| *r.borrow_mut() = None);
}

/// `Serialize` through `Display` and `Deserialize` through `FromStr` for
/// the newtypes that travel as text.
macro_rules! text_form {
    ($($t:ty),* $(,)?) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<str>::deserialize(d)?;
                $crate::ops::wire::parse(&s)
            }
        }
        impl utoipa::PartialSchema for $t {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::ops::wire::text_schema()
            }
        }
        impl utoipa::ToSchema for $t {}
    )*};
}

/// The schema of a value that travels as text.
pub fn text_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::Object::builder()
        .schema_type(utoipa::openapi::schema::Type::String)
        .into()
}

/// A text value checked on arrival by `$check` (which returns `Result<_>`),
/// kept as written: ids, names and times the domain parses again itself.
macro_rules! checked_text {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        impl std::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                ($check)(s)?;
                Ok($name(s.to_owned()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        text_form!($name);
    };
}

text_form!(
    crate::policy::Principal,
    crate::policy::Scope,
    crate::policy::Action,
    crate::policy::ResourcePattern,
    crate::policy::grant::Subject,
    crate::token::MaxUses,
);

/// `Option<Duration>` as text (`"2h"`, `"90s"`).
pub mod opt_duration {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&crate::time::format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.map(|s| crate::time::parse_duration(&s).map_err(refuse))
            .transpose()
    }
}

/// `Duration` as text.
pub mod duration {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::time::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        crate::time::parse_duration(&s).map_err(refuse)
    }
}

/// A whole number that may arrive as text (a path segment) or as a number.
pub mod int {
    use super::*;

    pub fn serialize<S: Serializer>(n: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(*n)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<'a> {
            N(i64),
            S(std::borrow::Cow<'a, str>),
        }
        match Either::deserialize(d)? {
            Either::N(n) => Ok(n),
            Either::S(s) => s
                .parse()
                .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a whole number"))),
        }
    }
}
