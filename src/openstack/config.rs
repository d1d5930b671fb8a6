//! Where the credentials come from, in the order operators expect: the agent's own
//! parameters, then a `clouds.yaml` entry (`os_cloud`, with `secure.yaml` merged over it as
//! openstacksdk does), then a `password_file`. The result is one [`AuthConfig`]; every
//! problem is a configuration error that names the setting but never a secret's value.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::{OpenStackError, Result};
use super::secret::Secret;
use crate::ocf::params::printable;
use crate::ocf::{OcfResult, ParamSpec, Params};

/// Keystone's default domain, what the fence agents and openstack-common.sh assume.
pub const DEFAULT_DOMAIN: &str = "Default";

/// The shared OCF parameters of the OpenStack agents, as the agent read them. Empty strings
/// count as unset (Pacemaker passes `param=""` for a parameter cleared in the CIB).
#[derive(Debug, Clone, Default)]
pub struct CredentialParams {
    pub auth_url: Option<String>,
    pub username: Option<String>,
    pub user_id: Option<String>,
    pub password: Option<Secret>,
    pub password_file: Option<String>,
    /// `tenant_name` (the old agents' name) or `project_name`.
    pub project_name: Option<String>,
    pub project_id: Option<String>,
    pub user_domain: Option<String>,
    pub user_domain_id: Option<String>,
    pub project_domain: Option<String>,
    pub project_domain_id: Option<String>,
    pub region_name: Option<String>,
    /// `publicURL`/`internalURL`/`adminURL` or `public`/`internal`/`admin`.
    pub endpoint_type: Option<String>,
    pub insecure: Option<bool>,
    pub ca_file: Option<String>,
    pub os_cloud: Option<String>,
    pub application_credential_id: Option<String>,
    pub application_credential_name: Option<String>,
    pub application_credential_secret: Option<Secret>,
}

/// The parameters [`CredentialParams::from_ocf`] reads; an agent declares them (and the same
/// names in its meta-data XML).
pub const CREDENTIAL_PARAMS: &[ParamSpec] = &[
    ParamSpec::string("auth_url"),
    ParamSpec::string("username"),
    ParamSpec::string("user_id"),
    ParamSpec::string("password"),
    ParamSpec::string("password_file"),
    ParamSpec::string("tenant_name"),
    ParamSpec::string("project_name"),
    ParamSpec::string("project_id"),
    ParamSpec::string("user_domain"),
    ParamSpec::string("project_domain"),
    ParamSpec::string("region_name"),
    ParamSpec::string("endpoint_type"),
    ParamSpec::boolean("insecure"),
    ParamSpec::string("ca_file"),
    ParamSpec::string("os_cloud"),
    ParamSpec::string("application_credential_id"),
    ParamSpec::string("application_credential_name"),
    ParamSpec::string("application_credential_secret"),
];

/// The credential parameters every Nova agent declares, with the defaults their meta-data
/// gives (a subset of [`CREDENTIAL_PARAMS`]).
pub const AGENT_CREDENTIAL_SPECS: &[ParamSpec] = &[
    ParamSpec::string("auth_url"),
    ParamSpec::string("username"),
    ParamSpec::string("password"),
    ParamSpec::string("password_file"),
    ParamSpec::string("tenant_name"),
    ParamSpec::string("project_name"),
    ParamSpec::string("user_domain").default("Default"),
    ParamSpec::string("project_domain").default("Default"),
    ParamSpec::string("application_credential_id"),
    ParamSpec::string("application_credential_secret"),
    ParamSpec::string("os_cloud"),
    ParamSpec::string("region_name"),
    ParamSpec::string("endpoint_type").default("internalURL"),
    ParamSpec::boolean("insecure").default("false"),
    ParamSpec::string("ca_file"),
];

impl CredentialParams {
    /// Read the [`CREDENTIAL_PARAMS`] an agent declares (those it does not declare stay
    /// unset). `tenant_name` wins over `project_name` when both are set, as the old agents
    /// only knew the former.
    pub fn from_ocf(p: &Params<'_>, declared: &[ParamSpec]) -> OcfResult<Self> {
        let has = |n: &str| declared.iter().any(|s| s.name == n);
        let s = |n: &str| -> OcfResult<Option<String>> {
            if has(n) {
                Ok(p.string(n)?.filter(|v| !v.is_empty()))
            } else {
                Ok(None)
            }
        };
        Ok(CredentialParams {
            auth_url: s("auth_url")?,
            username: s("username")?,
            user_id: s("user_id")?,
            password: s("password")?.map(Secret::new),
            password_file: s("password_file")?,
            project_name: s("tenant_name")?.or(s("project_name")?),
            project_id: s("project_id")?,
            user_domain: s("user_domain")?,
            user_domain_id: None,
            project_domain: s("project_domain")?,
            project_domain_id: None,
            region_name: s("region_name")?,
            endpoint_type: s("endpoint_type")?,
            insecure: if has("insecure") {
                Some(p.boolean("insecure")?)
            } else {
                None
            },
            ca_file: s("ca_file")?,
            os_cloud: s("os_cloud")?,
            application_credential_id: s("application_credential_id")?,
            application_credential_name: s("application_credential_name")?,
            application_credential_secret: s("application_credential_secret")?.map(Secret::new),
        })
    }
}

/// A domain by name or id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainRef {
    Name(String),
    Id(String),
}

/// A user or project: by id (globally unique), or by name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameOrId {
    Id(String),
    Name { name: String, domain: DomainRef },
}

/// The project a token is scoped to.
pub type Scope = NameOrId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppCredentialRef {
    Id(String),
    /// A credential's name is only unique per user.
    Name {
        name: String,
        user: NameOrId,
    },
}

#[derive(Debug, Clone)]
pub enum AuthMethod {
    Password {
        user: NameOrId,
        password: Secret,
    },
    /// Scoped by the credential itself: no project.
    ApplicationCredential {
        credential: AppCredentialRef,
        secret: Secret,
    },
}

/// Which catalog endpoint to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    Public,
    Internal,
    Admin,
}

impl Interface {
    /// The fence agents' names (`publicURL`, …) and Keystone's (`public`, …).
    pub fn parse(value: &str) -> Option<Interface> {
        match value.trim().to_ascii_lowercase().as_str() {
            "public" | "publicurl" => Some(Interface::Public),
            "internal" | "internalurl" => Some(Interface::Internal),
            "admin" | "adminurl" => Some(Interface::Admin),
            _ => None,
        }
    }

    /// As Keystone's catalog spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// Trust only these roots; None = the system's.
    pub ca_file: Option<PathBuf>,
    /// No certificate verification at all (the explicit opt-out, logged once).
    pub insecure: bool,
}

/// Everything needed to obtain a token and pick endpoints.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// As configured; versioned (`…/v3`) or not (discovered).
    pub auth_url: String,
    pub method: AuthMethod,
    /// None only for application credentials.
    pub project: Option<Scope>,
    pub region: Option<String>,
    pub interface: Interface,
    pub tls: TlsConfig,
}

/// Where clouds.yaml and secure.yaml are looked for, first existing file wins.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    pub clouds: Vec<PathBuf>,
    pub secure: Vec<PathBuf>,
}

impl ConfigSources {
    /// openstacksdk's order: `OS_CLIENT_CONFIG_FILE` (`OS_CLIENT_SECURE_FILE`), the current
    /// directory, `~/.config/openstack/`, `/etc/openstack/`.
    pub fn standard() -> Self {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Ok(cwd) = std::env::current_dir() {
            dirs.push(cwd);
        }
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            dirs.push(Path::new(&home).join(".config/openstack"));
        }
        dirs.push(PathBuf::from("/etc/openstack"));
        let list = |env: &str, stem: &str| -> Vec<PathBuf> {
            let mut v: Vec<PathBuf> = std::env::var_os(env)
                .filter(|f| !f.is_empty())
                .map(PathBuf::from)
                .into_iter()
                .collect();
            for d in &dirs {
                for ext in ["yaml", "yml"] {
                    v.push(d.join(format!("{stem}.{ext}")));
                }
            }
            v
        };
        ConfigSources {
            clouds: list("OS_CLIENT_CONFIG_FILE", "clouds"),
            secure: list("OS_CLIENT_SECURE_FILE", "secure"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct CloudsFile {
    #[serde(default)]
    clouds: BTreeMap<String, CloudEntry>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct CloudEntry {
    #[serde(default)]
    auth: CloudAuth,
    auth_type: Option<String>,
    region_name: Option<String>,
    interface: Option<String>,
    endpoint_type: Option<String>,
    verify: Option<bool>,
    insecure: Option<bool>,
    cacert: Option<String>,
}

#[derive(Default, Clone, Deserialize)]
struct CloudAuth {
    auth_url: Option<String>,
    username: Option<String>,
    user_id: Option<String>,
    password: Option<String>,
    project_name: Option<String>,
    tenant_name: Option<String>,
    project_id: Option<String>,
    tenant_id: Option<String>,
    user_domain_name: Option<String>,
    user_domain_id: Option<String>,
    project_domain_name: Option<String>,
    project_domain_id: Option<String>,
    domain_name: Option<String>,
    domain_id: Option<String>,
    application_credential_id: Option<String>,
    application_credential_name: Option<String>,
    application_credential_secret: Option<String>,
}

impl std::fmt::Debug for CloudAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CloudAuth { .. }")
    }
}

impl Drop for CloudAuth {
    fn drop(&mut self) {
        // The secrets move into Secret values; whatever is left is dropped as one.
        drop(self.password.take().map(Secret::new));
        drop(self.application_credential_secret.take().map(Secret::new));
    }
}

fn pick<T: Clone>(over: &Option<T>, under: &Option<T>) -> Option<T> {
    over.clone().or_else(|| under.clone())
}

impl CloudEntry {
    /// secure.yaml's values over clouds.yaml's, key by key.
    fn merged_with(&self, secure: &CloudEntry) -> CloudEntry {
        let (a, s) = (&self.auth, &secure.auth);
        CloudEntry {
            auth: CloudAuth {
                auth_url: pick(&s.auth_url, &a.auth_url),
                username: pick(&s.username, &a.username),
                user_id: pick(&s.user_id, &a.user_id),
                password: pick(&s.password, &a.password),
                project_name: pick(&s.project_name, &a.project_name),
                tenant_name: pick(&s.tenant_name, &a.tenant_name),
                project_id: pick(&s.project_id, &a.project_id),
                tenant_id: pick(&s.tenant_id, &a.tenant_id),
                user_domain_name: pick(&s.user_domain_name, &a.user_domain_name),
                user_domain_id: pick(&s.user_domain_id, &a.user_domain_id),
                project_domain_name: pick(&s.project_domain_name, &a.project_domain_name),
                project_domain_id: pick(&s.project_domain_id, &a.project_domain_id),
                domain_name: pick(&s.domain_name, &a.domain_name),
                domain_id: pick(&s.domain_id, &a.domain_id),
                application_credential_id: pick(
                    &s.application_credential_id,
                    &a.application_credential_id,
                ),
                application_credential_name: pick(
                    &s.application_credential_name,
                    &a.application_credential_name,
                ),
                application_credential_secret: pick(
                    &s.application_credential_secret,
                    &a.application_credential_secret,
                ),
            },
            auth_type: pick(&secure.auth_type, &self.auth_type),
            region_name: pick(&secure.region_name, &self.region_name),
            interface: pick(&secure.interface, &self.interface),
            endpoint_type: pick(&secure.endpoint_type, &self.endpoint_type),
            verify: pick(&secure.verify, &self.verify),
            insecure: pick(&secure.insecure, &self.insecure),
            cacert: pick(&secure.cacert, &self.cacert),
        }
    }
}

/// The largest configuration file read: clouds.yaml files are small, and a runaway file
/// (or /dev/zero by mistake) must not eat the operation's memory.
const FILE_LIMIT: u64 = 1024 * 1024;

fn read_limited(path: &Path, what: &str) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| {
        OpenStackError::config(format!("cannot open {what} {}: {e}", path.display()))
    })?;
    let mut text = String::new();
    file.take(FILE_LIMIT + 1)
        .read_to_string(&mut text)
        .map_err(|e| {
            OpenStackError::config(format!("cannot read {what} {}: {e}", path.display()))
        })?;
    if text.len() as u64 > FILE_LIMIT {
        return Err(OpenStackError::config(format!(
            "{what} {} is larger than {FILE_LIMIT} bytes",
            path.display()
        )));
    }
    Ok(text)
}

/// Parse a clouds.yaml/secure.yaml. A parse error names the file and the position only:
/// the parser's own message may quote the offending line, which can be a password.
fn parse_clouds(path: &Path) -> Result<CloudsFile> {
    let text = read_limited(path, "cloud configuration")?;
    serde_saphyr::from_str::<Option<CloudsFile>>(&text)
        .map(Option::unwrap_or_default)
        .map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
                .unwrap_or_default();
            OpenStackError::config(format!("{} is not a valid clouds.yaml{at}", path.display()))
        })
}

fn first_existing(paths: &[PathBuf]) -> Option<&PathBuf> {
    paths.iter().find(|p| p.is_file())
}

/// The named cloud from the first clouds.yaml found, with the same cloud of the first
/// secure.yaml found merged over it.
fn load_cloud(name: &str, sources: &ConfigSources) -> Result<CloudEntry> {
    let clouds_path = first_existing(&sources.clouds).ok_or_else(|| {
        OpenStackError::config(format!(
            "os_cloud '{}' is set but no clouds.yaml was found (looked in {})",
            printable(name),
            sources
                .clouds
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let mut clouds = parse_clouds(clouds_path)?;
    let entry = clouds.clouds.remove(name).ok_or_else(|| {
        OpenStackError::config(format!(
            "{} has no cloud '{}'",
            clouds_path.display(),
            printable(name)
        ))
    })?;
    warn_if_exposed(clouds_path, &entry);
    match first_existing(&sources.secure) {
        Some(secure_path) => {
            let mut secure = parse_clouds(secure_path)?;
            Ok(match secure.clouds.remove(name) {
                Some(s) => {
                    warn_if_exposed(secure_path, &s);
                    entry.merged_with(&s)
                }
                None => entry,
            })
        }
        None => Ok(entry),
    }
}

/// clouds.yaml is often world-readable on purpose (it names the cloud); a secret in it (or
/// in secure.yaml) then is not ours alone. Refusing would break working setups, so say it.
fn warn_if_exposed(path: &Path, entry: &CloudEntry) {
    let holds_secret =
        entry.auth.password.is_some() || entry.auth.application_credential_secret.is_some();
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode())
        .unwrap_or(0);
    if holds_secret && mode & 0o077 != 0 {
        log::warn!(
            "{} holds a password or secret and is readable by group or others (mode {:04o}): \
             chmod 600 it, or move the secret to a secure.yaml only its owner can read",
            path.display(),
            mode & 0o7777
        );
    }
}

/// The first line of a password file, refused when its mode lets the group or others read
/// it (the secret would then not be ours alone) or when it is not a regular file.
pub fn read_password_file(path: &str) -> Result<Secret> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(OpenStackError::config(format!(
            "password_file '{}' must be an absolute path",
            printable(path)
        )));
    }
    let meta = std::fs::metadata(p).map_err(|e| {
        OpenStackError::config(format!("cannot read password_file {}: {e}", p.display()))
    })?;
    if !meta.is_file() {
        return Err(OpenStackError::config(format!(
            "password_file {} is not a regular file",
            p.display()
        )));
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(OpenStackError::config(format!(
            "password_file {} is accessible by group or others (mode {:04o}, owner uid {}); \
             refusing it: chmod 600 it",
            p.display(),
            mode & 0o7777,
            meta.uid()
        )));
    }
    let text = Secret::new(read_limited(p, "password_file")?);
    let first = text.expose().lines().next().unwrap_or("");
    if first.is_empty() {
        return Err(OpenStackError::config(format!(
            "password_file {} is empty (the password is its first line)",
            p.display()
        )));
    }
    Ok(Secret::new(first))
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

impl AuthConfig {
    /// Build from the agent's parameters, with clouds.yaml/secure.yaml from the standard
    /// places.
    pub fn from_params(p: &CredentialParams) -> Result<AuthConfig> {
        Self::from_params_with(p, &ConfigSources::standard())
    }

    /// As [`AuthConfig::from_params`], looking for clouds.yaml/secure.yaml in `sources`.
    pub fn from_params_with(p: &CredentialParams, sources: &ConfigSources) -> Result<AuthConfig> {
        let cloud = match nonempty(p.os_cloud.clone()) {
            Some(name) => load_cloud(&name, sources)?,
            None => CloudEntry::default(),
        };
        let c = &cloud.auth;
        let auth_url = nonempty(p.auth_url.clone())
            .or_else(|| nonempty(c.auth_url.clone()))
            .ok_or_else(|| OpenStackError::config("auth_url is not set"))?;
        check_url(&auth_url)?;

        let user = user_ref(p, c);
        let app_id = nonempty(p.application_credential_id.clone())
            .or_else(|| nonempty(c.application_credential_id.clone()));
        let app_name = nonempty(p.application_credential_name.clone())
            .or_else(|| nonempty(c.application_credential_name.clone()));
        let app_secret = p
            .application_credential_secret
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| nonempty(c.application_credential_secret.clone()).map(Secret::new));
        let wants_app = match cloud.auth_type.as_deref() {
            Some("v3applicationcredential") | Some("application_credential") => true,
            Some("password") | Some("v3password") => false,
            Some(other) => {
                return Err(OpenStackError::config(format!(
                    "clouds.yaml auth_type '{}' is not supported (password or \
                     v3applicationcredential)",
                    printable(other)
                )))
            }
            None => app_id.is_some() || app_name.is_some() || app_secret.is_some(),
        };

        let (method, project) = if wants_app {
            let secret = app_secret.ok_or_else(|| {
                OpenStackError::config(
                    "application_credential_secret is not set for the application credential",
                )
            })?;
            let credential = match (app_id, app_name) {
                (Some(id), _) => AppCredentialRef::Id(id),
                (None, Some(name)) => AppCredentialRef::Name {
                    name,
                    user: user.ok_or_else(|| {
                        OpenStackError::config(
                            "an application credential by name needs the user (username or \
                             user_id)",
                        )
                    })?,
                },
                (None, None) => {
                    return Err(OpenStackError::config(
                        "application_credential_id (or _name with a user) is not set",
                    ))
                }
            };
            (
                AuthMethod::ApplicationCredential { credential, secret },
                None,
            )
        } else {
            let user =
                user.ok_or_else(|| OpenStackError::config("username (or user_id) is not set"))?;
            let password = match p.password.clone().filter(|s| !s.is_empty()) {
                Some(pw) => pw,
                None => match nonempty(c.password.clone()) {
                    Some(pw) => Secret::new(pw),
                    None => match nonempty(p.password_file.clone()) {
                        Some(file) => read_password_file(&file)?,
                        None => {
                            return Err(OpenStackError::config(
                                "password is not set (password, clouds.yaml/secure.yaml or \
                                 password_file)",
                            ))
                        }
                    },
                },
            };
            let project = project_ref(p, c).ok_or_else(|| {
                OpenStackError::config("tenant_name (project_name or project_id) is not set")
            })?;
            (AuthMethod::Password { user, password }, Some(project))
        };

        let interface = match nonempty(p.endpoint_type.clone())
            .or_else(|| nonempty(cloud.interface.clone()))
            .or_else(|| nonempty(cloud.endpoint_type.clone()))
        {
            Some(v) => Interface::parse(&v).ok_or_else(|| {
                OpenStackError::config(format!(
                    "endpoint_type '{}' must be publicURL, internalURL or adminURL (or \
                     public, internal, admin)",
                    printable(&v)
                ))
            })?,
            // The fence agents' default, which NovaEvacuate relied on.
            None => Interface::Internal,
        };
        let ca_file = nonempty(p.ca_file.clone()).or_else(|| nonempty(cloud.cacert.clone()));
        if let Some(ca) = &ca_file {
            if !ca.starts_with('/') {
                return Err(OpenStackError::config(format!(
                    "ca_file '{}' must be an absolute path",
                    printable(ca)
                )));
            }
        }
        // A boolean parameter cannot say "unset", so either source can opt out.
        let insecure =
            p.insecure == Some(true) || cloud.insecure == Some(true) || cloud.verify == Some(false);
        Ok(AuthConfig {
            auth_url,
            method,
            project,
            region: nonempty(p.region_name.clone()).or_else(|| nonempty(cloud.region_name.clone())),
            interface,
            tls: TlsConfig {
                ca_file: ca_file.map(PathBuf::from),
                insecure,
            },
        })
    }
}

fn check_url(url: &str) -> Result<()> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url
            .parse::<ureq::http::Uri>()
            .is_ok_and(|u| u.host().is_some_and(|h| !h.is_empty()));
    if ok {
        Ok(())
    } else {
        Err(OpenStackError::config(format!(
            "auth_url '{}' is not an http:// or https:// URL",
            printable(&crate::http::redact_url(url))
        )))
    }
}

fn domain(
    name_param: &Option<String>,
    id_param: &Option<String>,
    name_cloud: &Option<String>,
    id_cloud: &Option<String>,
    any_cloud: (&Option<String>, &Option<String>),
) -> DomainRef {
    if let Some(id) = nonempty(id_param.clone()) {
        return DomainRef::Id(id);
    }
    if let Some(n) = nonempty(name_param.clone()) {
        return DomainRef::Name(n);
    }
    if let Some(id) = nonempty(id_cloud.clone()) {
        return DomainRef::Id(id);
    }
    if let Some(n) = nonempty(name_cloud.clone()) {
        return DomainRef::Name(n);
    }
    // openstacksdk: domain_id/domain_name apply to user and project alike.
    if let Some(id) = nonempty(any_cloud.1.clone()) {
        return DomainRef::Id(id);
    }
    if let Some(n) = nonempty(any_cloud.0.clone()) {
        return DomainRef::Name(n);
    }
    DomainRef::Name(DEFAULT_DOMAIN.to_string())
}

/// A user or project: the parameter's id, else its name, else the cloud entry's id, else
/// its name (names within `domain`).
fn name_or_id(
    param_id: &Option<String>,
    param_name: &Option<String>,
    cloud_id: Option<String>,
    cloud_name: Option<String>,
    domain: impl Fn() -> DomainRef,
) -> Option<NameOrId> {
    let named = |name| NameOrId::Name {
        name,
        domain: domain(),
    };
    nonempty(param_id.clone())
        .map(NameOrId::Id)
        .or_else(|| nonempty(param_name.clone()).map(named))
        .or_else(|| nonempty(cloud_id).map(NameOrId::Id))
        .or_else(|| nonempty(cloud_name).map(named))
}

fn user_ref(p: &CredentialParams, c: &CloudAuth) -> Option<NameOrId> {
    name_or_id(
        &p.user_id,
        &p.username,
        c.user_id.clone(),
        c.username.clone(),
        || {
            domain(
                &p.user_domain,
                &p.user_domain_id,
                &c.user_domain_name,
                &c.user_domain_id,
                (&c.domain_name, &c.domain_id),
            )
        },
    )
}

fn project_ref(p: &CredentialParams, c: &CloudAuth) -> Option<NameOrId> {
    name_or_id(
        &p.project_id,
        &p.project_name,
        nonempty(c.project_id.clone()).or_else(|| c.tenant_id.clone()),
        nonempty(c.project_name.clone()).or_else(|| c.tenant_name.clone()),
        || {
            domain(
                &p.project_domain,
                &p.project_domain_id,
                &c.project_domain_name,
                &c.project_domain_id,
                (&c.domain_name, &c.domain_id),
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clouds.yaml of its own in a fresh directory, removed afterwards.
    struct Files(PathBuf);

    impl Files {
        fn new(tag: &str, clouds: &str, secure: Option<&str>) -> Files {
            let dir =
                std::env::temp_dir().join(format!("ocfbox-cloudcfg-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("clouds.yaml"), clouds).unwrap();
            if let Some(s) = secure {
                std::fs::write(dir.join("secure.yaml"), s).unwrap();
                std::fs::set_permissions(
                    dir.join("secure.yaml"),
                    std::fs::Permissions::from_mode(0o600),
                )
                .unwrap();
            }
            Files(dir)
        }

        fn sources(&self) -> ConfigSources {
            ConfigSources {
                clouds: vec![self.0.join("clouds.yaml")],
                secure: vec![self.0.join("secure.yaml")],
            }
        }
    }

    impl Drop for Files {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn cloud(name: &str) -> CredentialParams {
        CredentialParams {
            os_cloud: Some(name.into()),
            ..Default::default()
        }
    }

    #[test]
    fn domain_applies_to_user_and_project_and_ids_win() {
        let f = Files::new(
            "domain",
            "clouds:\n  c:\n    auth:\n      auth_url: https://k/identity\n      username: u\n      \
             password: pw\n      project_name: p\n      domain_id: d1\n    verify: false\n",
            None,
        );
        let cfg = AuthConfig::from_params_with(&cloud("c"), &f.sources()).unwrap();
        let AuthMethod::Password { user, .. } = &cfg.method else {
            panic!("{cfg:?}")
        };
        let d1 = DomainRef::Id("d1".into());
        assert_eq!(
            *user,
            NameOrId::Name {
                name: "u".into(),
                domain: d1.clone()
            }
        );
        assert_eq!(
            cfg.project,
            Some(NameOrId::Name {
                name: "p".into(),
                domain: d1
            })
        );
        assert!(cfg.tls.insecure, "verify: false");
        // A parameter's user_id wins over the cloud's username.
        let p = CredentialParams {
            user_id: Some("uid".into()),
            ..cloud("c")
        };
        let cfg = AuthConfig::from_params_with(&p, &f.sources()).unwrap();
        assert!(
            matches!(&cfg.method, AuthMethod::Password { user: NameOrId::Id(i), .. } if i == "uid")
        );
    }

    #[test]
    fn application_credential_from_secure_yaml() {
        let f = Files::new(
            "appcred",
            "clouds:\n  c:\n    auth_type: v3applicationcredential\n    auth:\n      \
             auth_url: https://k/identity/v3\n      application_credential_id: ac\n",
            Some("clouds:\n  c:\n    auth:\n      application_credential_secret: s3\n"),
        );
        let cfg = AuthConfig::from_params_with(&cloud("c"), &f.sources()).unwrap();
        match &cfg.method {
            AuthMethod::ApplicationCredential { credential, secret } => {
                assert_eq!(*credential, AppCredentialRef::Id("ac".into()));
                assert_eq!(secret.expose(), "s3");
            }
            other => panic!("{other:?}"),
        }
        assert!(cfg.project.is_none());
        assert!(!format!("{cfg:?}").contains("s3"));
    }

    #[test]
    fn unsupported_auth_type_and_empty_file() {
        let f = Files::new(
            "authtype",
            "clouds:\n  c:\n    auth_type: token\n    auth:\n      auth_url: https://k/v3\n",
            None,
        );
        let e = AuthConfig::from_params_with(&cloud("c"), &f.sources()).unwrap_err();
        assert!(e.to_string().contains("auth_type 'token'"), "{e}");
        let empty = Files::new("empty", "", None);
        let e = AuthConfig::from_params_with(&cloud("c"), &empty.sources()).unwrap_err();
        assert!(e.to_string().contains("no cloud 'c'"), "{e}");
    }
}
