//! Layout, SVG/PNG diagrams and HTML reports. Not implemented yet: the render issue fills this crate.
