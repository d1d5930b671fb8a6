//! The OCF action, parsed once by the runtime into the agent's own enum: an agent matches
//! the actions it has, exhaustively, and never sees a name it does not implement (the
//! runtime answers meta-data, usage and anything else itself).

/// An agent's set of actions, declared with [`ocf_actions!`].
pub trait Actions: Copy + Sized + 'static {
    /// Every name that parses, as the meta-data advertises them (meta-data excepted).
    const NAMES: &'static [&'static str];
    fn parse(name: &str) -> Option<Self>;
}

/// `ocf_actions! { pub enum MyAction { Start = "start", Monitor = "monitor" | "status" } }`
/// declares the enum and its [`Actions`] names (several names may share one variant).
#[macro_export]
macro_rules! ocf_actions {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $($text:literal)|+),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($variant),+
        }

        impl $crate::ocf::action::Actions for $name {
            const NAMES: &'static [&'static str] = &[$($($text),+),+];

            fn parse(name: &str) -> Option<Self> {
                match name {
                    $($($text)|+ => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

crate::ocf_actions! {
    /// The actions every agent has, for the agents that have no others.
    pub enum Basic {
        Start = "start",
        Stop = "stop",
        Monitor = "monitor" | "status",
        ValidateAll = "validate-all",
    }
}

#[cfg(test)]
mod tests {
    use super::Actions;

    crate::ocf_actions! {
        enum Demo { Start = "start", Monitor = "monitor" | "status" }
    }

    #[test]
    fn names_parse_to_their_variant() {
        assert_eq!(Demo::parse("status"), Some(Demo::Monitor));
        assert_eq!(Demo::parse("start"), Some(Demo::Start));
        assert_eq!(Demo::parse("Start"), None);
        assert_eq!(Demo::NAMES, &["start", "monitor", "status"]);
    }
}
