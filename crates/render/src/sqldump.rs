//! The model, the rules and the findings as an SQLite database (what pytm 1.3.1's `--sqldump`
//! gave, with keys): every element, flow and boundary is a row of `elements`; `flows` and
//! `boundaries` add their own columns by the same id; `findings` join to `elements` and
//! `threats`. The file is written to a temporary name and renamed into place.

use std::path::Path;

use rusqlite::{Connection, params};
use threatmap_core::attr::Kind;
use threatmap_core::engine::{Analysis, Finding};
use threatmap_core::model::{DataItem, Element};

/// Errors writing the database.
#[derive(Debug, thiserror::Error)]
pub enum SqlDumpError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file could not be created or moved into place.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

const SCHEMA: &str = "
PRAGMA foreign_keys = ON;
CREATE TABLE model (name TEXT NOT NULL, description TEXT NOT NULL, is_ordered INTEGER NOT NULL, merge_responses INTEGER NOT NULL, rule_packs TEXT NOT NULL);
CREATE TABLE elements (
  id TEXT PRIMARY KEY, position INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,
  boundary_id TEXT REFERENCES elements(id), in_scope INTEGER NOT NULL, levels TEXT NOT NULL,
  finding_count INTEGER NOT NULL, worst_severity TEXT, attributes TEXT NOT NULL);
CREATE TABLE boundaries (id TEXT PRIMARY KEY REFERENCES elements(id), parent_id TEXT REFERENCES elements(id), depth INTEGER NOT NULL);
CREATE TABLE flows (
  id TEXT PRIMARY KEY REFERENCES elements(id), source_id TEXT REFERENCES elements(id), sink_id TEXT REFERENCES elements(id),
  flow_order INTEGER, protocol TEXT, dst_port INTEGER, is_response INTEGER NOT NULL,
  response_to_id TEXT REFERENCES elements(id), crosses_boundary INTEGER NOT NULL);
CREATE TABLE data (id TEXT PRIMARY KEY, position INTEGER NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL, classification TEXT NOT NULL, attributes TEXT NOT NULL);
CREATE TABLE element_data (element_id TEXT NOT NULL REFERENCES elements(id), data_id TEXT NOT NULL REFERENCES data(id), PRIMARY KEY (element_id, data_id));
CREATE TABLE threats (
  id TEXT PRIMARY KEY, pack TEXT NOT NULL, title TEXT NOT NULL, severity TEXT NOT NULL, likelihood TEXT NOT NULL, stride TEXT NOT NULL,
  targets TEXT NOT NULL, description TEXT NOT NULL, details TEXT NOT NULL, prerequisites TEXT NOT NULL, mitigations TEXT NOT NULL,
  example TEXT NOT NULL, refs TEXT NOT NULL, condition TEXT NOT NULL);
CREATE TABLE findings (
  key TEXT PRIMARY KEY, threat_id TEXT NOT NULL REFERENCES threats(id), element_id TEXT NOT NULL REFERENCES elements(id),
  title TEXT NOT NULL, severity TEXT NOT NULL, description TEXT NOT NULL, mitigations TEXT NOT NULL, refs TEXT NOT NULL,
  status TEXT NOT NULL, justification TEXT NOT NULL, excluded_by TEXT, forced INTEGER NOT NULL, evidence TEXT NOT NULL);
CREATE INDEX findings_element ON findings(element_id);
CREATE INDEX findings_threat ON findings(threat_id);
";

/// The JSON of `value` without the keys that have their own columns.
fn json_without(mut v: serde_json::Value, columns: &[&str]) -> String {
    if let Some(o) = v.as_object_mut() {
        for k in columns {
            o.remove(*k);
        }
    }
    v.to_string()
}

fn attributes_json(e: &Element) -> String {
    json_without(
        serde_json::to_value(e).unwrap_or_default(),
        &["id", "kind", "name", "description", "source", "sink", "inBoundary", "responseTo", "inScope", "levels", "data"],
    )
}

fn data_json(d: &DataItem) -> String {
    json_without(serde_json::to_value(d).unwrap_or_default(), &["id", "name", "description", "classification"])
}

/// Writes the database to `path`, replacing it atomically.
pub fn write(a: &Analysis<'_>, path: &Path) -> Result<(), SqlDumpError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new().prefix(".threatmap-sqldump-").suffix(".tmp").tempfile_in(&dir)?;
    {
        let mut conn = Connection::open(tmp.path())?;
        conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
        fill(&mut conn, a)?;
        conn.execute_batch("PRAGMA synchronous = FULL;")?;
        conn.close().map_err(|(_, e)| e)?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn fill(conn: &mut Connection, a: &Analysis<'_>) -> Result<(), rusqlite::Error> {
    let p = &a.prepared;
    let m = p.model();
    conn.execute_batch(SCHEMA)?;
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO model VALUES (?1, ?2, ?3, ?4, ?5)",
        params![m.name, m.description, m.is_ordered, m.merge_responses, m.rule_packs.join(", ")],
    )?;
    let badges = crate::dfd::badges(a);
    let id = |i: u32| p.element(i).id.as_str();
    {
        let mut st = tx.prepare("INSERT INTO elements VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7, ?8, ?9, ?10)")?;
        for (i, e) in m.elements.iter().enumerate() {
            let levels: Vec<String> = crate::dfd::levels_of(a, i as u32).iter().map(u32::to_string).collect();
            let b = badges.get(i).copied().flatten();
            st.execute(params![
                e.id,
                i as i64,
                e.kind.name(),
                e.name,
                e.description.as_deref().unwrap_or(""),
                e.in_scope(),
                levels.join(","),
                b.map_or(0, |b| b.count as i64),
                b.map(|b| b.worst.name()),
                attributes_json(e)
            ])?;
        }
        let mut up = tx.prepare("UPDATE elements SET boundary_id = ?2 WHERE id = ?1")?;
        for i in 0..m.elements.len() as u32 {
            if let Some(b) = p.boundary_of(i) {
                up.execute(params![id(i), id(b)])?;
            }
        }
    }
    {
        let mut st = tx.prepare("INSERT INTO boundaries VALUES (?1, ?2, ?3)")?;
        let mut fl = tx.prepare("INSERT INTO flows VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")?;
        for (i, e) in m.elements.iter().enumerate() {
            let i = i as u32;
            match e.kind {
                Kind::Boundary => {
                    let mut depth = 0i64;
                    let mut k = p.boundary_of(i);
                    while let Some(b) = k {
                        depth += 1;
                        if depth > m.elements.len() as i64 {
                            break;
                        }
                        k = p.boundary_of(b);
                    }
                    st.execute(params![e.id, p.boundary_of(i).map(id), depth])?;
                }
                Kind::Dataflow => {
                    let ends = p.endpoints(i);
                    let int = |k| match p.attr(i, k) {
                        Ok(threatmap_core::attr::Value::Int(n)) => Some(n),
                        _ => None,
                    };
                    let text = |k| match p.attr(i, k) {
                        Ok(threatmap_core::attr::Value::Str(s)) => Some(s.to_owned()),
                        _ => None,
                    };
                    use threatmap_core::model::ElementAttr as A;
                    let (_, to) = p.response_pair(i);
                    let crosses = ends.is_some_and(|(s, t)| p.boundary_of(s) != p.boundary_of(t));
                    fl.execute(params![
                        e.id,
                        ends.map(|(s, _)| id(s)),
                        ends.map(|(_, t)| id(t)),
                        int(A::order),
                        text(A::protocol),
                        int(A::dst_port),
                        matches!(p.attr(i, A::is_response), Ok(threatmap_core::attr::Value::Bool(true))),
                        to.map(id),
                        crosses
                    ])?;
                }
                _ => {}
            }
        }
    }
    {
        let mut st = tx.prepare("INSERT INTO data VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
        for (k, d) in m.data.iter().enumerate() {
            let class = crate::value_text(&p.data_attr(k as u32, threatmap_core::model::DataAttr::classification));
            st.execute(params![d.id, k as i64, d.name, d.description.as_deref().unwrap_or(""), class, data_json(d)])?;
        }
        let mut ed = tx.prepare("INSERT OR IGNORE INTO element_data VALUES (?1, ?2)")?;
        for i in 0..m.elements.len() as u32 {
            for &d in p.data_of(i) {
                ed.execute(params![id(i), m.data[d as usize].id])?;
            }
        }
    }
    {
        let mut st = tx.prepare("INSERT OR IGNORE INTO threats VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")?;
        for r in &a.rules.rules {
            let stride: Vec<String> = r.stride.iter().map(|s| format!("{s:?}")).collect();
            st.execute(params![
                r.id,
                r.pack,
                r.title_template,
                r.severity.name(),
                r.likelihood,
                stride.join(", "),
                r.target_names.join(", "),
                r.description,
                r.details,
                r.prerequisites,
                r.mitigations.join("\n"),
                r.example,
                r.references.join(", "),
                r.condition.source()
            ])?;
        }
    }
    {
        let mut st = tx.prepare("INSERT OR IGNORE INTO findings VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)")?;
        let mut put = |f: &Finding| -> Result<(), rusqlite::Error> {
            let v = a.view(f);
            let (status, justification) = match (&f.excluded_by, a.decision(f)) {
                (Some(x), _) => ("not-applicable", format!("Assumption: {x}")),
                (None, Some(d)) => (d.status.key(), d.justification.clone()),
                (None, None) => ("open", String::new()),
            };
            let evidence = serde_json::to_string(&a.explain(f)).unwrap_or_default();
            st.execute(params![
                v.key,
                v.threat_id,
                v.element_id,
                v.title,
                v.severity.name(),
                v.description.as_ref(),
                v.mitigations.join("\n"),
                v.references.join(", "),
                status,
                justification,
                f.excluded_by,
                f.forced,
                evidence
            ])?;
            Ok(())
        };
        for f in a.findings.iter().chain(a.excluded.iter()) {
            put(f)?;
        }
    }
    tx.commit()
}
