//! The stored spelling of the state enums (the same as on the wire), so a database row
//! decodes into the enum once, at the edge, instead of being compared as text.

/// A stored or sent name that is not one of the enum's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {name:?}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
}

/// Implements `as_str`, `parse`, `FromStr`, `TryFrom<String>` and `Display` for a unit enum
/// from one list of (variant, spelling) pairs.
macro_rules! stored_names {
    ($ty:ident, $kind:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }

            /// Parses the stored spelling.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($name => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| $crate::UnknownName {
                    kind: $kind,
                    name: s.to_owned(),
                })
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::UnknownName;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::{CapsuleState, DeliveryStatus, ErrorCode, PhotoState};

    fn same_as_serde<T: serde::Serialize + std::fmt::Display + Copy>(all: &[T]) {
        for v in all {
            let wire = serde_json::to_value(v).expect("serialize");
            assert_eq!(wire.as_str(), Some(v.to_string().as_str()));
        }
    }

    #[test]
    fn stored_names_are_the_wire_names() {
        same_as_serde(ErrorCode::ALL);
        same_as_serde(CapsuleState::ALL);
        same_as_serde(PhotoState::ALL);
        same_as_serde(DeliveryStatus::ALL);
        assert_eq!("capsule_sealed".parse(), Ok(ErrorCode::CapsuleSealed));
        assert!("nonsense".parse::<CapsuleState>().is_err());
    }
}
