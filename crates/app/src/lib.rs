//! The `threatmap` application: the desktop app (an egui canvas over the core model and the
//! render crate's shapes, layout and exports) and the headless CLI.
//!
//! - [`gui`]: the app struct, menus, file handling, recovery;
//! - [`commands`]: every action in one list (menus, shortcuts and the command palette read it);
//! - [`canvas`]: painting and direct manipulation of the diagram;
//! - [`panels`]: palette, inspector, findings table, rule packs;
//! - [`document`]: the open model, dirty tracking, geometry edits;
//! - [`history`]: undo/redo as the changes each edit made;
//! - [`files`]: file dialogs (the system's, or Threatmap's own where none can be shown);
//! - [`convert`]: other tools' files into native models (the CLI and the app both call it);
//! - [`attachments`]: a model's attached files in the app and the report;
//! - [`handoff`]: tickets in the app (tracker settings, create and sync on a background thread);
//! - [`portfolio`]: a folder's models summed up (the `portfolio` command and the app's sidebar);
//! - [`cli`]: the subcommands.

pub mod attachments;
pub mod canvas;
pub mod cli;
pub mod commands;
pub mod convert;
pub mod document;
pub mod files;
pub mod gui;
pub mod handoff;
pub mod history;
pub mod panels;
pub mod portfolio;
