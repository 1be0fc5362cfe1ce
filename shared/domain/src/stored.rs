//! Small closed vocabularies stored as text. Every service keeps some (states, kinds, modes), and
//! all of them need the same two directions: one stored name per value, and a stored name that
//! matches none read back as `None`, so a broken row is an error at its reader, never a default.

/// Declares crate-visible enums whose values are stored by name, with `ALL`, `as_str`, `parse`,
/// `Display`, and serde by the same names (the calling crate depends on `serde`).
#[macro_export]
macro_rules! stored_enums {
    ($($(#[$doc:meta])* $name:ident { $($variant:ident => $stored:literal),+ $(,)? })+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub(crate) enum $name { $($variant),+ }

        impl $name {
            /// Every value.
            #[allow(dead_code, reason = "not every vocabulary is enumerated")]
            pub(crate) const ALL: &[$name] = &[$($name::$variant),+];

            /// The stored name.
            pub(crate) fn as_str(self) -> &'static str {
                match self { $($name::$variant => $stored),+ }
            }

            /// Reads a stored name back.
            #[allow(dead_code, reason = "request-only vocabularies are never read back")]
            pub(crate) fn parse(stored: &str) -> Option<Self> {
                match stored { $($stored => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let stored = <std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                $name::parse(&stored).ok_or_else(|| {
                    <D::Error as ::serde::de::Error>::custom(concat!("not a stored ", stringify!($name)))
                })
            }
        }
    )+};
}
