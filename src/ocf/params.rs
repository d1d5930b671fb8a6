//! Instance parameters, declared once per agent as a list of [`ParamSpec`] that must agree
//! with the agent's meta-data XML (a unit test compares the two for every agent).

use super::env::OcfEnv;
use super::error::{OcfError, OcfResult};

/// The content types both ra-api-1.dtd and resource-agents' metadata.rng accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    Boolean,
}

impl ParamType {
    pub fn xml_name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub ty: ParamType,
    pub required: bool,
    pub default: Option<&'static str>,
}

impl ParamSpec {
    pub const fn string(name: &'static str) -> Self {
        ParamSpec {
            name,
            ty: ParamType::String,
            required: false,
            default: None,
        }
    }
    pub const fn integer(name: &'static str) -> Self {
        ParamSpec {
            name,
            ty: ParamType::Integer,
            required: false,
            default: None,
        }
    }
    pub const fn boolean(name: &'static str) -> Self {
        ParamSpec {
            name,
            ty: ParamType::Boolean,
            required: false,
            default: None,
        }
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }
}

/// ocf_is_true's vocabulary, plus the matching false words. Anything else is a
/// configuration error: a typo must not silently mean "false".
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" | "on" | "ja" | "y" => Some(true),
        "no" | "false" | "0" | "off" | "nein" | "n" => Some(false),
        _ => None,
    }
}

/// Typed access to an agent's parameters: value from the environment, else the declared
/// default; a malformed value is OCF_ERR_CONFIGURED with the parameter named.
pub struct Params<'a> {
    specs: &'a [ParamSpec],
    env: &'a OcfEnv,
}

impl<'a> Params<'a> {
    pub fn new(specs: &'a [ParamSpec], env: &'a OcfEnv) -> Self {
        Params { specs, env }
    }

    fn spec(&self, name: &str) -> OcfResult<&'a ParamSpec> {
        self.specs.iter().find(|s| s.name == name).ok_or_else(|| {
            OcfError::generic(format!(
                "internal error: parameter '{name}' is not declared by this agent"
            ))
        })
    }

    fn raw(&self, name: &str) -> OcfResult<Option<&'a str>> {
        let spec = self.spec(name)?;
        if self.env.param_is_not_utf8(name) {
            return Err(OcfError::configured(format!(
                "parameter '{name}' is not valid UTF-8"
            )));
        }
        Ok(self.env.param(name).or(spec.default))
    }

    /// The value or default; None when neither is set.
    pub fn string(&self, name: &str) -> OcfResult<Option<String>> {
        Ok(self.raw(name)?.map(str::to_string))
    }

    /// The value or default; OCF_ERR_CONFIGURED naming the parameter when neither is set.
    pub fn required_string(&self, name: &str) -> OcfResult<String> {
        self.string(name)?
            .ok_or_else(|| OcfError::configured(format!("required parameter '{name}' is not set")))
    }

    pub fn integer(&self, name: &str) -> OcfResult<Option<i64>> {
        match self.raw(name)? {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                OcfError::configured(format!(
                    "parameter '{name}' must be an integer, got '{}'",
                    printable(v)
                ))
            }),
        }
    }

    /// An integer that must lie within `range`.
    pub fn integer_in(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> OcfResult<Option<i64>> {
        match self.integer(name)? {
            Some(v) if !range.contains(&v) => Err(OcfError::configured(format!(
                "parameter '{name}' must be between {} and {}, got {v}",
                range.start(),
                range.end()
            ))),
            other => Ok(other),
        }
    }

    pub fn boolean(&self, name: &str) -> OcfResult<bool> {
        match self.raw(name)? {
            None => Ok(false),
            Some(v) => parse_bool(v).ok_or_else(|| {
                OcfError::configured(format!(
                    "parameter '{name}' must be a boolean (yes/no, true/false, 1/0, on/off), got '{}'",
                    printable(v)
                ))
            }),
        }
    }

    /// Parameters set in the environment that the agent does not declare: worth a warning,
    /// since a misspelt name otherwise silently falls back to its default.
    pub fn undeclared(&self) -> Vec<String> {
        self.env
            .param_names()
            .filter(|n| !self.specs.iter().any(|s| s.name == *n))
            .map(str::to_string)
            .collect()
    }
}

/// A duration as sleep(1) reads it (what shell agents handed their delay parameters to):
/// one or more numbers, each with an optional unit `s`, `m`, `h` or `d`, fractions allowed,
/// summed: `5`, `5s`, `1m`, `1.5m`, `1m 30s`. `inf`/`infinity` are sleep's too and come out
/// as `Duration::MAX` (the caller clamps). Err says what is wrong.
pub fn parse_sleep_duration(value: &str) -> Result<std::time::Duration, String> {
    let mut total = 0f64;
    let mut any = false;
    for word in value.split_whitespace() {
        any = true;
        let (number, unit) = match word.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() && !word.eq_ignore_ascii_case("inf") => {
                (&word[..i], c)
            }
            _ => (word, 's'),
        };
        if ["inf", "infinity"]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w))
        {
            return Ok(std::time::Duration::MAX);
        }
        let factor = match unit {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86_400.0,
            _ => {
                return Err(format!(
                    "'{}' has an unknown unit (s, m, h, d)",
                    printable(word)
                ))
            }
        };
        let n: f64 = number
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite() && *n >= 0.0 && !number.starts_with('+'))
            .ok_or_else(|| format!("'{}' is not a number of seconds", printable(word)))?;
        total += n * factor;
    }
    if !any {
        return Err("it is empty".into());
    }
    Ok(std::time::Duration::try_from_secs_f64(total).unwrap_or(std::time::Duration::MAX))
}

/// A value made safe to quote in a reason: control characters escaped, length capped.
pub fn printable(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[ParamSpec] = &[
        ParamSpec::string("unit").required(),
        ParamSpec::integer("delay").default("5"),
        ParamSpec::boolean("insecure").default("false"),
    ];

    #[test]
    fn ocf_is_true_vocabulary() {
        for t in ["yes", "TRUE", "True", "1", "on", "ON", "ja"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["no", "false", "0", "off", "NO"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn defaults_apply_and_bad_values_are_configuration_errors() {
        let env = OcfEnv::from_pairs([("OCF_RESKEY_unit", "a.service")]);
        let p = Params::new(SPECS, &env);
        assert_eq!(p.required_string("unit").unwrap(), "a.service");
        assert_eq!(p.integer("delay").unwrap(), Some(5));
        assert!(!p.boolean("insecure").unwrap());

        let env = OcfEnv::from_pairs([
            ("OCF_RESKEY_delay", "five"),
            ("OCF_RESKEY_insecure", "sure"),
        ]);
        let p = Params::new(SPECS, &env);
        let e = p.required_string("unit").unwrap_err();
        assert_eq!(e.code(), crate::ocf::OcfCode::ErrConfigured);
        assert!(e.to_string().contains("'unit'"));
        assert_eq!(
            p.integer("delay").unwrap_err().code(),
            crate::ocf::OcfCode::ErrConfigured
        );
        assert_eq!(
            p.boolean("insecure").unwrap_err().code(),
            crate::ocf::OcfCode::ErrConfigured
        );
    }

    #[test]
    fn range_is_enforced() {
        let env = OcfEnv::from_pairs([("OCF_RESKEY_delay", "-3")]);
        let p = Params::new(SPECS, &env);
        assert!(p.integer_in("delay", 0..=60).is_err());
    }

    #[test]
    fn undeclared_parameters_are_reported() {
        let env = OcfEnv::from_pairs([("OCF_RESKEY_unti", "typo"), ("OCF_RESKEY_unit", "x")]);
        assert_eq!(Params::new(SPECS, &env).undeclared(), vec!["unti"]);
    }

    #[test]
    fn sleep_durations_read_as_sleep_reads_them() {
        let secs = |v: &str| parse_sleep_duration(v).map(|d| d.as_secs_f64());
        assert_eq!(secs("5"), Ok(5.0));
        assert_eq!(secs(" 5s "), Ok(5.0));
        assert_eq!(secs("1m"), Ok(60.0));
        assert_eq!(secs("1.5m"), Ok(90.0));
        assert_eq!(secs("1m 30s"), Ok(90.0));
        assert_eq!(secs("0.5"), Ok(0.5));
        assert_eq!(secs("1h"), Ok(3600.0));
        assert_eq!(
            parse_sleep_duration("infinity"),
            Ok(std::time::Duration::MAX)
        );
        for bad in ["", "x", "5x", "-1", "s", "5 y", "+3"] {
            assert!(parse_sleep_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn printable_escapes_control_characters() {
        assert_eq!(printable("a\nb"), "a\\nb");
    }
}
