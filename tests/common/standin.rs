//! A local stand-in for a hosted tracker, held to the vendor's published API description
//! (OpenAPI 3): every request it gets is checked against the description (the operation exists
//! for the method and path, query parameters are declared and valid, required path and query
//! parameters are there, the JSON body matches the request schema), and every answer it gives is
//! checked against the description's response schema for its status, built from the
//! description's own examples. Any mismatch is recorded as a violation; the tests fail on any.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

/// An OpenAPI description, with OpenAPI 3.0's `nullable` turned into JSON Schema's null type.
pub struct Description {
    spec: Value,
    validators: Mutex<BTreeMap<String, Arc<jsonschema::Validator>>>,
}

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// An answer: status, body, extra headers.
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply { status, body: Some(body), headers: Vec::new() }
    }

    pub fn empty(status: u16) -> Reply {
        Reply { status, body: None, headers: Vec::new() }
    }

    pub fn with_header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }
}

fn nullable_to_null_type(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("nullable") == Some(&Value::Bool(true)) {
                match m.get("type").cloned() {
                    Some(Value::String(t)) => {
                        m.insert("type".to_owned(), Value::Array(vec![Value::String(t), Value::String("null".to_owned())]));
                    }
                    _ if m.contains_key("allOf") || m.contains_key("oneOf") || m.contains_key("anyOf") || m.contains_key("$ref") => {
                        // `nullable` beside a composition or reference: null, or the schema.
                        let inner: Map<String, Value> =
                            m.iter().filter(|(k, _)| *k != "nullable").map(|(k, v)| (k.clone(), v.clone())).collect();
                        m.clear();
                        m.insert("anyOf".to_owned(), Value::Array(vec![serde_json::json!({"type": "null"}), Value::Object(inner)]));
                    }
                    _ => {}
                }
            }
            for (_, x) in m.iter_mut() {
                nullable_to_null_type(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(nullable_to_null_type),
        _ => {}
    }
}

/// JSON Pointer escaping of one token.
fn esc(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

impl Description {
    pub fn load(path: &Path) -> Description {
        Description::from_value(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
    }

    pub fn from_value(mut spec: Value) -> Description {
        nullable_to_null_type(&mut spec);
        Description { spec, validators: Mutex::new(BTreeMap::new()) }
    }

    /// Follows a local `$ref` once.
    fn deref<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => self.spec.pointer(r.trim_start_matches('#')).unwrap_or(&Value::Null),
            None => v,
        }
    }

    /// The operation for a method and concrete path: its path template and path parameters.
    pub fn operation(&self, method: &str, path: &str) -> Option<(String, BTreeMap<String, String>)> {
        let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let paths = self.spec["paths"].as_object()?;
        for (template, item) in paths {
            let t: Vec<&str> = template.split('/').collect();
            if t.len() != segs.len() || item.get(method.to_lowercase()).is_none() {
                continue;
            }
            let mut params = BTreeMap::new();
            let fits = t.iter().zip(&segs).all(|(a, b)| {
                if a.starts_with('{') && a.ends_with('}') {
                    params.insert(a[1..a.len() - 1].to_owned(), percent_decode(b));
                    !b.is_empty()
                } else {
                    a == b
                }
            });
            if fits {
                return Some((template.clone(), params));
            }
        }
        None
    }

    fn validator(&self, pointer: &str) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap();
        if let Some(v) = cache.get(pointer) {
            return v.clone();
        }
        // The whole description is the root, so that its `#/components/...` references resolve;
        // the root's `$ref` (which overrides its siblings in draft 4) points at the schema wanted.
        let mut root = self.spec.clone();
        root["$ref"] = Value::String(format!("#{}", pointer.replace('{', "%7B").replace('}', "%7D")));
        let v = Arc::new(
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft4)
                .should_validate_formats(false)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema at {pointer}: {e}")),
        );
        cache.insert(pointer.to_owned(), v.clone());
        v
    }

    fn check(&self, pointer: &str, instance: &Value, what: &str) -> Vec<String> {
        self.validator(pointer).iter_errors(instance).map(|e| format!("{what}: {}: {e}", e.instance_path())).collect()
    }

    /// Everything wrong with a request, by the description.
    pub fn check_request(&self, r: &Request) -> (Option<String>, Vec<String>) {
        let method = r.method.to_lowercase();
        let Some((template, path_params)) = self.operation(&r.method, &r.path) else {
            return (None, vec![format!("{} {}: no such operation in the description", r.method, r.path)]);
        };
        let op_ptr = format!("/paths/{}/{method}", esc(&template));
        let op = self.spec.pointer(&op_ptr).unwrap();
        let mut problems = Vec::new();
        let what = format!("{} {template}", r.method);
        // Parameters of the operation and of its path item.
        let mut declared: Vec<(String, Value)> = Vec::new();
        for list in [self.spec.pointer(&format!("/paths/{}/parameters", esc(&template))), op.get("parameters")] {
            for p in list.and_then(Value::as_array).into_iter().flatten() {
                let pointer = p.get("$ref").and_then(Value::as_str).map(|s| s.trim_start_matches('#').to_owned());
                let p = self.deref(p).clone();
                let schema_ptr = pointer.map(|ptr| format!("{ptr}/schema"));
                declared.push((schema_ptr.unwrap_or_default(), p));
            }
        }
        for (_, p) in &declared {
            let (name, place) = (p["name"].as_str().unwrap_or(""), p["in"].as_str().unwrap_or(""));
            let required = p["required"].as_bool().unwrap_or(false) || place == "path";
            let present = match place {
                "path" => path_params.contains_key(name),
                "query" => r.param(name).is_some(),
                _ => true,
            };
            if required && !present {
                problems.push(format!("{what}: required {place} parameter `{name}` missing"));
            }
        }
        for (k, v) in &r.query {
            let Some((_, p)) = declared.iter().find(|(_, p)| p["in"] == "query" && p["name"] == k.as_str()) else {
                problems.push(format!("{what}: query parameter `{k}` is not in the description"));
                continue;
            };
            // A query value is text: compare it as the schema's type.
            let schema = self.deref(&p["schema"]).clone();
            let value = match schema["type"].as_str() {
                Some("integer") => v.parse::<i64>().map(Value::from).unwrap_or(Value::String(v.clone())),
                Some("boolean") => v.parse::<bool>().map(Value::from).unwrap_or(Value::String(v.clone())),
                Some("array") => Value::Array(v.split(',').map(|s| Value::String(s.to_owned())).collect()),
                _ => Value::String(v.clone()),
            };
            let mut root = schema;
            if let Some(obj) = root.as_object_mut() {
                obj.insert("components".to_owned(), self.spec["components"].clone());
            }
            if let Ok(val) = jsonschema::options().with_draft(jsonschema::Draft::Draft4).build(&root) {
                problems.extend(val.iter_errors(&value).map(|e| format!("{what}: query `{k}`={v}: {e}")));
            }
        }
        match (op.pointer("/requestBody/content/application~1json/schema"), &r.body) {
            (Some(_), Some(body)) => problems.extend(self.check(
                &format!("{op_ptr}/requestBody/content/application~1json/schema"),
                body,
                &format!("{what} body"),
            )),
            (Some(_), None) if op["requestBody"]["required"].as_bool().unwrap_or(false) => {
                problems.push(format!("{what}: the description requires a JSON body"))
            }
            (None, Some(_)) => problems.push(format!("{what}: the description takes no JSON body")),
            _ => {}
        }
        (Some(template), problems)
    }

    /// Everything wrong with an answer, by the description.
    pub fn check_response(&self, method: &str, template: &str, status: u16, body: Option<&Value>) -> Vec<String> {
        let responses = format!("/paths/{}/{}/responses", esc(template), method.to_lowercase());
        let what = format!("{method} {template} answer {status}");
        if self.spec.pointer(&format!("{responses}/{status}")).is_none() {
            return vec![format!("{what}: status not in the description")];
        }
        let mut response_ptr = format!("{responses}/{status}");
        if let Some(r) = self.spec.pointer(&format!("{response_ptr}/$ref")).and_then(Value::as_str) {
            response_ptr = r.trim_start_matches('#').to_owned();
        }
        let schema_ptr = format!("{response_ptr}/content/application~1json/schema");
        match (self.spec.pointer(&schema_ptr), body) {
            (Some(s), Some(b)) if s.as_object().is_some_and(|o| !o.is_empty()) => self.check(&schema_ptr, b, &what),
            _ => Vec::new(),
        }
    }

    /// The description's example answer of an operation for a status.
    pub fn example(&self, method: &str, template: &str, status: u16) -> Value {
        let content = self
            .spec
            .pointer(&format!("/paths/{}/{}/responses/{status}/content/application~1json", esc(template), method.to_lowercase()))
            .unwrap_or_else(|| panic!("{method} {template} {status}: no JSON answer in the description"));
        if let Some(e) = content.get("example") {
            return match e {
                Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| e.clone()),
                v => v.clone(),
            };
        }
        let ex = content["examples"].as_object().and_then(|m| m.values().next()).unwrap_or_else(|| panic!("{template}: no example"));
        self.deref(ex)["value"].clone()
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// A running stand-in: its URL, the requests it got and the violations it found.
pub struct StandIn {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
    pub violations: Arc<Mutex<Vec<String>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl StandIn {
    /// Serves `handle` on a free loopback port, checking each request and answer against `description`.
    pub fn start(description: Arc<Description>, mut handle: impl FnMut(&Request, &str) -> Reply + Send + 'static) -> StandIn {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let violations = Arc::new(Mutex::new(Vec::new()));
        let (srv, reqs, viol) = (server.clone(), requests.clone(), violations.clone());
        let thread = std::thread::spawn(move || {
            for mut rq in srv.incoming_requests() {
                let url = rq.url().to_owned();
                let (path, query) = url.split_once('?').unwrap_or((&url, ""));
                let query: Vec<(String, String)> = query
                    .split('&')
                    .filter(|s| !s.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        (percent_decode(k), percent_decode(&v.replace('+', " ")))
                    })
                    .collect();
                let mut text = String::new();
                let _ = rq.as_reader().read_to_string(&mut text);
                let body = (!text.trim().is_empty()).then(|| serde_json::from_str(&text).unwrap_or(Value::String(text.clone())));
                let request = Request {
                    method: rq.method().as_str().to_uppercase(),
                    path: path.to_owned(),
                    query,
                    headers: rq.headers().iter().map(|h| (h.field.as_str().as_str().to_owned(), h.value.as_str().to_owned())).collect(),
                    body,
                };
                let (template, problems) = description.check_request(&request);
                viol.lock().unwrap().extend(problems);
                let reply = match &template {
                    Some(t) => handle(&request, t),
                    None => Reply::json(404, serde_json::json!({"message": "Not Found"})),
                };
                if let Some(t) = &template {
                    viol.lock().unwrap().extend(description.check_response(&request.method, t, reply.status, reply.body.as_ref()));
                }
                reqs.lock().unwrap().push(request);
                let text = reply.body.map(|b| b.to_string()).unwrap_or_default();
                let mut resp = tiny_http::Response::from_string(text).with_status_code(reply.status);
                resp.add_header(tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap());
                for (k, v) in reply.headers {
                    resp.add_header(tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap());
                }
                let _ = rq.respond(resp);
            }
        });
        StandIn { url: format!("http://127.0.0.1:{port}"), requests, violations, server, thread: Some(thread) }
    }

    /// The violations so far, as one text (empty when there are none).
    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }
}
