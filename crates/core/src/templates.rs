//! Starter models: the bundled templates File → New from template and `threatmap new
//! --template` start from. Each is a native model file in `assets/templates/`, with boundaries,
//! data items and the controls such a system usually has, and the rule packs it calls for.

use crate::file::{self, ModelError};
use crate::model::Model;

/// A bundled starter model.
#[derive(Debug, Clone, Copy)]
pub struct ModelTemplate {
    /// Name on the command line (`threatmap new --template NAME`).
    pub name: &'static str,
    /// The model's own title, shown in menus.
    pub title: &'static str,
    /// The native model file's text.
    pub text: &'static str,
}

/// The starter models, in menu order.
pub const MODEL_TEMPLATES: &[ModelTemplate] = &[
    ModelTemplate {
        name: "web-application",
        title: "Web application",
        text: include_str!("../../../assets/templates/web-application.threatmap.json"),
    },
    ModelTemplate {
        name: "mobile-app-api",
        title: "Mobile app with API",
        text: include_str!("../../../assets/templates/mobile-app-api.threatmap.json"),
    },
    ModelTemplate {
        name: "kubernetes-microservices",
        title: "Cloud microservices on Kubernetes",
        text: include_str!("../../../assets/templates/kubernetes-microservices.threatmap.json"),
    },
    ModelTemplate { name: "iot-device", title: "IoT device", text: include_str!("../../../assets/templates/iot-device.threatmap.json") },
    ModelTemplate {
        name: "llm-application",
        title: "LLM application with tools",
        text: include_str!("../../../assets/templates/llm-application.threatmap.json"),
    },
];

impl ModelTemplate {
    /// The template's model, ready to edit.
    pub fn model(&self) -> Result<Model, ModelError> {
        file::parse(self.text, &format!("template {}", self.name))
    }
}

/// The template called `name`.
pub fn find(name: &str) -> Option<&'static ModelTemplate> {
    MODEL_TEMPLATES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_a_canonical_valid_model_with_its_title() {
        for t in MODEL_TEMPLATES {
            let m = t.model().unwrap_or_else(|e| panic!("{}: {e}", t.name));
            assert_eq!(m.name, t.title, "{}: the menu title is the model's name", t.name);
            assert_eq!(file::to_canonical_json(&m), t.text, "{}: not in canonical form (run threatmap fmt)", t.name);
            assert!(file::check(&m).is_empty(), "{}: {:?}", t.name, file::check(&m));
            assert!(!m.description.is_empty() && !m.rule_packs.is_empty(), "{}: says what it is and which packs it runs", t.name);
        }
        assert!(find("iot-device").is_some() && find("nope").is_none());
    }
}
