//! Man pages rendered from a program's own meta-data (`ocfbox man NAME`), so the page can
//! never disagree with what the agent tells Pacemaker. `make man` runs it for every program
//! at build time: OCF agents as ocf_<provider>_<agent>(7), as resource-agents names them;
//! fence and alert agents under their own name in section 8.

use roxmltree::{Document, Node, ParsingOptions};

use crate::agents::{Kind, Program};

/// The page's file name and section for `program` (e.g. `ocf_ocfbox_SystemdService`, 7).
pub fn page_name(program: &Program, provider: &str) -> (String, u8) {
    match program.kind() {
        Kind::Ocf => (format!("ocf_{provider}_{}", program.name()), 7),
        Kind::Fence | Kind::Alert => (program.name().to_string(), 8),
    }
}

/// The roff text of `program`'s page. Err: its meta-data does not parse (a bug a unit test
/// catches, never an operator's input).
pub fn render(program: &Program, provider: &str) -> Result<String, String> {
    let (page, section) = page_name(program, provider);
    let mut out = String::new();
    out.push_str(&format!(
        ".TH {} {section} \"\" \"ocfbox {}\" \"{}\"\n.nh\n.ad l\n",
        roff_word(&page.to_uppercase()),
        env!("CARGO_PKG_VERSION"),
        match program.kind() {
            Kind::Ocf => "OCF resource agents",
            Kind::Fence => "Fence agents",
            Kind::Alert => "Pacemaker alert agents",
        }
    ));
    out.push_str(&format!(
        ".SH NAME\n{} \\- {}\n",
        roff_word(&page),
        roff_line(&program.shortdesc())
    ));
    match program {
        Program::Ocf(agent) => ocf_page(&mut out, program.name(), provider, &agent.metadata())?,
        Program::Fence(agent) => fence_page(&mut out, program.name(), &agent.metadata())?,
        Program::Alert(_) => alert_page(&mut out, program.name()),
    }
    out.push_str(".SH SEE ALSO\n");
    let see_also = match program.kind() {
        Kind::Ocf => "crm_resource (8), crm (8), pcs (8)",
        Kind::Fence => "stonith_admin (8), pacemaker-fenced (7), pcs (8)",
        Kind::Alert => "crm (8), pcs (8)",
    };
    out.push_str(&format!("{see_also}\n"));
    Ok(out)
}

/// The meta-data parsed; its DOCTYPE (ra-api-1.dtd, external) is allowed, not fetched.
fn parse<'a>(name: &str, xml: &'a str) -> Result<Document<'a>, String> {
    let opts = ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(xml, opts).map_err(|e| format!("{name}: meta-data: {e}"))
}

fn ocf_page(out: &mut String, name: &str, provider: &str, xml: &str) -> Result<(), String> {
    let doc = parse(name, xml).map_err(|e| format!("{name}: meta-data: {e}"))?;
    let root = doc.root_element();
    let params = parameters(&root);
    out.push_str(".SH SYNOPSIS\n");
    out.push_str(&format!(
        "\\fBOCF_RESKEY_\\fR\\fIparameter\\fR=\\fIvalue\\fR ... \
         /usr/lib/ocf/resource.d/{}/{} \\fIaction\\fR\n",
        roff_word(provider),
        roff_word(name)
    ));
    out.push_str(&format!(
        ".PP\nResource agent \\fBocf:{}:{}\\fR, run by pacemaker\\-execd with one of the \
         actions below.\n",
        roff_word(provider),
        roff_word(name)
    ));
    out.push_str(".SH DESCRIPTION\n");
    prose(out, &child_text(&root, "longdesc"));
    out.push_str(".SH PARAMETERS\n");
    if params.is_empty() {
        out.push_str("This agent takes no parameters.\n");
    }
    for p in &params {
        param_entry(out, p, &p.name);
    }
    out.push_str(".SH ACTIONS\n");
    for action in root
        .descendants()
        .filter(|n| n.has_tag_name("action"))
        .filter_map(|n| {
            let name = n.attribute("name")?;
            let mut facts = Vec::new();
            for attr in ["timeout", "interval", "depth", "role"] {
                if let Some(v) = n.attribute(attr) {
                    facts.push(format!("{attr} {v}"));
                }
            }
            Some((name.to_string(), facts.join(", ")))
        })
    {
        out.push_str(&format!(".TP\n\\fB{}\\fR\n", roff_word(&action.0)));
        out.push_str(&format!("{}\n", roff_line(&action.1)));
    }
    out.push_str(".SH EXAMPLE\n.nf\n");
    let required: Vec<&Param> = params.iter().filter(|p| p.required).collect();
    let args: String = required
        .iter()
        .map(|p| format!(" {}=\\fI{}\\fR", roff_word(&p.name), roff_word(&p.kind)))
        .collect();
    out.push_str(&format!(
        "crm configure primitive \\fIid\\fR ocf:{}:{}{} \\e\n  op monitor interval=30s\n\
         pcs resource create \\fIid\\fR ocf:{}:{}{}\n.fi\n",
        roff_word(provider),
        roff_word(name),
        if args.is_empty() {
            String::new()
        } else {
            format!(" params{args}")
        },
        roff_word(provider),
        roff_word(name),
        args
    ));
    out.push_str(&format!(
        ".PP\nThe meta-data this page is made from: \\fBcrm_resource \\-\\-show\\-metadata \
         ocf:{}:{}\\fR.\n",
        roff_word(provider),
        roff_word(name)
    ));
    Ok(())
}

fn fence_page(out: &mut String, name: &str, xml: &str) -> Result<(), String> {
    let doc = parse(name, xml)?;
    let root = doc.root_element();
    out.push_str(".SH SYNOPSIS\n");
    out.push_str(&format!(
        "\\fB{n}\\fR [\\fIOPTION\\fR]...\n.br\necho \\fIname\\fR=\\fIvalue\\fR | \\fB{n}\\fR\n",
        n = roff_word(name)
    ));
    out.push_str(".SH DESCRIPTION\n");
    prose(out, &child_text(&root, "longdesc"));
    out.push_str(
        ".PP\npacemaker\\-fenced passes the options on standard input, one \
         \\fIname\\fR=\\fIvalue\\fR per line; on the command line they are the long \
         options below.\n",
    );
    out.push_str(".SH OPTIONS\n");
    for p in parameters(&root) {
        let head = match &p.getopt {
            Some(g) => format!("{} ({})", p.name, g),
            None => p.name.clone(),
        };
        param_entry(out, &p, &head);
    }
    out.push_str(".SH ACTIONS\n");
    let actions: Vec<&str> = root
        .descendants()
        .filter(|n| n.has_tag_name("action"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    out.push_str(&format!("{}\n", roff_line(&actions.join(", "))));
    out.push_str(&format!(
        ".SH EXAMPLE\n.nf\npcs stonith create \\fIid\\fR {n} \\fIname\\fR=\\fIvalue\\fR ...\n\
         stonith_admin \\-\\-metadata \\-a {n}\n.fi\n",
        n = roff_word(name)
    ));
    Ok(())
}

fn alert_page(out: &mut String, name: &str) {
    out.push_str(&format!(
        ".SH SYNOPSIS\n/usr/share/pacemaker/alerts/{}\n",
        roff_word(name)
    ));
    out.push_str(
        ".SH DESCRIPTION\nA Pacemaker alert agent: Pacemaker runs it on every node for \
         each event, with the event in the CRM_alert_* environment variables \
         (CRM_alert_kind, CRM_alert_node, CRM_alert_task, CRM_alert_rc, \
         CRM_alert_desc, ...). It takes no options.\n",
    );
    out.push_str(&format!(
        ".SH EXAMPLE\n.nf\ncrm configure alert \\fIid\\fR \
         /usr/share/pacemaker/alerts/{n}\n\
         pcs alert create id=\\fIid\\fR path=/usr/share/pacemaker/alerts/{n}\n.fi\n",
        n = roff_word(name)
    ));
}

struct Param {
    name: String,
    required: bool,
    unique: bool,
    kind: String,
    default: Option<String>,
    getopt: Option<String>,
    shortdesc: String,
    longdesc: String,
}

fn parameters(root: &Node<'_, '_>) -> Vec<Param> {
    root.descendants()
        .filter(|n| n.has_tag_name("parameter"))
        .filter_map(|n| {
            let content = n.children().find(|c| c.has_tag_name("content"));
            Some(Param {
                name: n.attribute("name")?.to_string(),
                required: matches!(n.attribute("required"), Some("1" | "true")),
                unique: matches!(n.attribute("unique"), Some("1" | "true")),
                kind: content
                    .and_then(|c| c.attribute("type"))
                    .unwrap_or("string")
                    .to_string(),
                default: content
                    .and_then(|c| c.attribute("default"))
                    .map(str::to_string),
                getopt: n
                    .children()
                    .find(|c| c.has_tag_name("getopt"))
                    .and_then(|g| g.attribute("mixed"))
                    .map(str::to_string),
                shortdesc: child_text(&n, "shortdesc"),
                longdesc: child_text(&n, "longdesc"),
            })
        })
        .collect()
}

fn param_entry(out: &mut String, p: &Param, head: &str) {
    let mut facts = vec![p.kind.clone()];
    if p.required {
        facts.push("required".into());
    }
    if p.unique {
        facts.push("unique".into());
    }
    if let Some(d) = p.default.as_deref().filter(|d| !d.is_empty()) {
        facts.push(format!("default: {d}"));
    }
    out.push_str(&format!(
        ".TP\n\\fB{}\\fR ({})\n{}\n",
        roff_word(head),
        roff_line(&facts.join(", ")),
        roff_line(&p.shortdesc)
    ));
    let long = p.longdesc.trim();
    if !long.is_empty() && long != p.shortdesc.trim() {
        // Paragraphs of the longdesc stay inside this parameter's indented entry.
        for (i, para) in paragraphs(long).iter().enumerate() {
            out.push_str(if i == 0 { ".br\n" } else { ".IP\n" });
            out.push_str(&format!("{}\n", roff_block(para)));
        }
    }
}

/// The trimmed text of the first `tag` child (not a descendant: a parameter's own
/// longdesc, not one deeper down).
fn child_text(node: &Node<'_, '_>, tag: &str) -> String {
    node.children()
        .find(|c| c.has_tag_name(tag))
        .map(|c| {
            c.descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect::<String>()
        })
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Paragraphs (blank-line separated) of a longdesc.
fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// A longdesc as roff: paragraphs, and the "- " lists the meta-data uses as bullets.
fn prose(out: &mut String, text: &str) {
    for para in paragraphs(text) {
        let mut item: Option<String> = None;
        let mut plain = Vec::new();
        let flush_item = |out: &mut String, item: &mut Option<String>| {
            if let Some(t) = item.take() {
                out.push_str(&format!(".IP \\(bu 2\n{}\n", roff_line(&t)));
            }
        };
        for line in para.lines() {
            let l = line.trim();
            if let Some(rest) = l.strip_prefix("- ") {
                if !plain.is_empty() {
                    out.push_str(&format!(".PP\n{}\n", roff_block(&plain.join("\n"))));
                    plain.clear();
                }
                flush_item(out, &mut item);
                item = Some(rest.to_string());
            } else if let Some(t) = item.as_mut() {
                t.push(' ');
                t.push_str(l);
            } else {
                plain.push(l.to_string());
            }
        }
        flush_item(out, &mut item);
        if !plain.is_empty() {
            out.push_str(&format!(".PP\n{}\n", roff_block(&plain.join("\n"))));
        }
    }
}

/// One line of text, safe in roff: backslashes escaped, hyphens literal, no line that
/// starts as a request.
fn roff_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let escaped = roff_word(&joined);
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// Lines of text kept as lines (filled by roff), each made safe.
fn roff_block(text: &str) -> String {
    text.lines()
        .map(roff_line)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn roff_word(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents;

    #[test]
    fn every_program_renders_with_every_parameter() {
        for program in agents::programs() {
            let page =
                render(&program, "ocfbox").unwrap_or_else(|e| panic!("{}: {e}", program.name()));
            assert!(page.starts_with(".TH "), "{}", program.name());
            if let Program::Ocf(a) = program {
                for p in a.params().iter() {
                    assert!(
                        page.contains(&format!("\\fB{}\\fR", roff_word(p.name))),
                        "{}: parameter {} missing",
                        program.name(),
                        p.name
                    );
                }
            }
        }
    }

    #[test]
    fn text_that_looks_like_a_request_is_escaped() {
        assert_eq!(roff_line(".SH x"), "\\&.SH x");
        assert_eq!(roff_line("a\\b-c"), "a\\eb\\-c");
    }

    #[test]
    fn bullets_become_list_items() {
        let mut out = String::new();
        prose(&mut out, "Intro\n\n- one\n  more\n- two\nafter");
        assert!(out.contains(".PP\nIntro\n"));
        assert!(out.contains(".IP \\(bu 2\none more\n"));
        assert!(out.contains(".IP \\(bu 2\ntwo after\n"));
    }
}
