//! Unlimited undo and redo that store what each edit changed, not the whole model.
//!
//! The history keeps a copy of the model as of the last recorded step (the *shadow*). Recording
//! a step compares the model with it, part by part: elements and data items by position,
//! positions and triage decisions by key, and the rest of the model (title, settings, small
//! lists) as one value. Only what differs is copied, so an edit of one element of a model of
//! thousands costs a comparison and two copies of that element, not two copies of the model.
//! A step holds the old values; applying it puts them back and gives the step that redoes it.

use std::collections::BTreeMap;
use std::mem;

use threatmap_core::lifecycle::{Decision, Decisions};
use threatmap_core::model::{DataItem, Diagram, Element, Model, Placement};

/// How to turn a list back into what it was.
#[derive(Debug, Clone, PartialEq)]
enum VecPatch<T> {
    /// Same length: the old values at these positions.
    At(Vec<(usize, T)>),
    /// `len` items from `at` were `items` (what lies before and after them is unchanged).
    Splice { at: usize, len: usize, items: Vec<T> },
}

impl<T: Clone + PartialEq + Sync> VecPatch<T> {
    /// The patch that turns `now` back into `shadow`; `shadow` becomes a copy of `now`, copying
    /// only what changed. `None` if they are equal.
    fn diff(shadow: &mut Vec<T>, now: &[T]) -> Option<VecPatch<T>> {
        if shadow.len() == now.len() {
            // Comparing is the cost (every element of a large model), so it is shared out
            // between threads; copying what changed is not.
            let seen: &[T] = shadow;
            let changed = threatmap_core::engine::in_parallel(now.len(), |range| range.filter(|&k| seen[k] != now[k]).collect());
            let old: Vec<(usize, T)> = changed.into_iter().map(|k| (k, mem::replace(&mut shadow[k], now[k].clone()))).collect();
            return (!old.is_empty()).then_some(VecPatch::At(old));
        }
        let prefix = shadow.iter().zip(now).take_while(|(s, n)| s == n).count();
        let room = shadow.len().min(now.len()) - prefix;
        let suffix = shadow.iter().rev().zip(now.iter().rev()).take(room).take_while(|(s, n)| s == n).count();
        let len = now.len() - prefix - suffix;
        let items = shadow.splice(prefix..shadow.len() - suffix, now[prefix..prefix + len].iter().cloned()).collect();
        Some(VecPatch::Splice { at: prefix, len, items })
    }

    /// Puts the old values back into `v`; returns the patch that undoes this.
    fn apply(self, v: &mut Vec<T>) -> VecPatch<T> {
        match self {
            VecPatch::At(mut old) => {
                for (k, x) in &mut old {
                    if let Some(slot) = v.get_mut(*k) {
                        mem::swap(slot, x);
                    }
                }
                VecPatch::At(old)
            }
            VecPatch::Splice { at, len, items } => {
                let at = at.min(v.len());
                let end = at.saturating_add(len).min(v.len());
                let restored = items.len();
                let removed = v.splice(at..end, items).collect();
                VecPatch::Splice { at, len: restored, items: removed }
            }
        }
    }
}

/// How to turn a map back into what it was: each key's old value (`None`: it was absent).
type MapPatch<K, V> = Vec<(K, Option<V>)>;

/// The patch that turns `now` back into `shadow`, which becomes a copy of `now` (copying only
/// what changed). Empty if they are equal.
fn diff_map<K: Ord + Clone, V: Clone + PartialEq>(shadow: &mut BTreeMap<K, V>, now: &BTreeMap<K, V>) -> MapPatch<K, V> {
    if shadow == now {
        return Vec::new();
    }
    // Walk both in key order; collect the changes first, then make them.
    let mut changed: Vec<(K, Option<V>)> = Vec::new();
    let (mut a, mut b) = (shadow.iter().peekable(), now.iter().peekable());
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (None, None) => break,
            (Some((ka, va)), Some((kb, vb))) if ka == kb => {
                if va != vb {
                    changed.push((kb.clone(), Some(vb.clone())));
                }
                a.next();
                b.next();
            }
            (Some((ka, _)), Some((kb, _))) if ka < kb => {
                changed.push((ka.clone(), None));
                a.next();
            }
            (Some((ka, _)), None) => {
                changed.push((ka.clone(), None));
                a.next();
            }
            (_, Some((kb, vb))) => {
                changed.push((kb.clone(), Some(vb.clone())));
                b.next();
            }
        }
    }
    apply_map(changed, shadow)
}

/// Sets each key of `patch` in `map` to its value there; returns the patch that undoes this.
fn apply_map<K: Ord + Clone, V>(patch: MapPatch<K, V>, map: &mut BTreeMap<K, V>) -> MapPatch<K, V> {
    patch
        .into_iter()
        .map(|(k, v)| {
            let old = match v {
                Some(v) => map.insert(k.clone(), v),
                None => map.remove(&k),
            };
            (k, old)
        })
        .collect()
}

/// One diagram's old title and level (where they changed) and its old positions.
type DiagramPatch = (usize, Option<(String, Option<u32>)>, MapPatch<String, Placement>);

/// How to turn the list of diagrams back into what it was.
#[derive(Debug, Clone, PartialEq)]
enum DiagramsPatch {
    /// As many diagrams as before: per diagram, its old title and level where they changed,
    /// and its old positions.
    Each(Vec<DiagramPatch>),
    /// Diagrams were added or removed.
    List(VecPatch<Diagram>),
}

impl DiagramsPatch {
    fn diff(shadow: &mut Vec<Diagram>, now: &[Diagram]) -> Option<DiagramsPatch> {
        if shadow.len() != now.len() {
            return VecPatch::diff(shadow, now).map(DiagramsPatch::List);
        }
        let mut each = Vec::new();
        for (k, (s, n)) in shadow.iter_mut().zip(now).enumerate() {
            let head = (s.name != n.name || s.level != n.level)
                .then(|| (mem::replace(&mut s.name, n.name.clone()), mem::replace(&mut s.level, n.level)));
            let layout = diff_map(&mut s.layout, &n.layout);
            if head.is_some() || !layout.is_empty() {
                each.push((k, head, layout));
            }
        }
        (!each.is_empty()).then_some(DiagramsPatch::Each(each))
    }

    fn apply(self, v: &mut Vec<Diagram>) -> DiagramsPatch {
        match self {
            DiagramsPatch::List(p) => DiagramsPatch::List(p.apply(v)),
            DiagramsPatch::Each(each) => DiagramsPatch::Each(
                each.into_iter()
                    .filter_map(|(k, head, layout)| {
                        let d = v.get_mut(k)?;
                        let head = head.map(|(name, level)| (mem::replace(&mut d.name, name), mem::replace(&mut d.level, level)));
                        Some((k, head, apply_map(layout, &mut d.layout)))
                    })
                    .collect(),
            ),
        }
    }
}

/// The model's large parts, held apart while the rest of it is compared or swapped whole.
struct Parts {
    elements: Vec<Element>,
    data: Vec<DataItem>,
    layout: BTreeMap<String, Placement>,
    diagrams: Vec<Diagram>,
    decisions: Decisions,
}

impl Parts {
    fn take(m: &mut Model) -> Parts {
        Parts {
            elements: mem::take(&mut m.elements),
            data: mem::take(&mut m.data),
            layout: mem::take(&mut m.layout),
            diagrams: mem::take(&mut m.diagrams),
            decisions: mem::take(&mut m.decisions),
        }
    }

    fn put(self, m: &mut Model) {
        m.elements = self.elements;
        m.data = self.data;
        m.layout = self.layout;
        m.diagrams = self.diagrams;
        m.decisions = self.decisions;
    }
}

/// One undo (or redo) step: the old value of each part of the model that changed.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    elements: Option<VecPatch<Element>>,
    data: Option<VecPatch<DataItem>>,
    layout: MapPatch<String, Placement>,
    diagrams: Option<DiagramsPatch>,
    decisions: MapPatch<String, Decision>,
    /// The rest of the model (its large parts left empty), where any of it changed.
    rest: Option<Box<Model>>,
}

impl Step {
    /// The step that turns `now` back into `shadow`; `shadow` becomes equal to `now`.
    fn diff(shadow: &mut Model, now: &mut Model) -> Option<Step> {
        let step = Step {
            elements: VecPatch::diff(&mut shadow.elements, &now.elements),
            data: VecPatch::diff(&mut shadow.data, &now.data),
            layout: diff_map(&mut shadow.layout, &now.layout),
            diagrams: DiagramsPatch::diff(&mut shadow.diagrams, &now.diagrams),
            decisions: diff_map(&mut shadow.decisions, &now.decisions),
            rest: {
                let (a, b) = (Parts::take(shadow), Parts::take(now));
                let rest = (*shadow != *now).then(|| Box::new(mem::replace(shadow, now.clone())));
                a.put(shadow);
                b.put(now);
                rest
            },
        };
        let empty = step.elements.is_none()
            && step.data.is_none()
            && step.layout.is_empty()
            && step.diagrams.is_none()
            && step.decisions.is_empty()
            && step.rest.is_none();
        (!empty).then_some(step)
    }

    /// Applies the step to `m`; returns the step that undoes this.
    fn apply(self, m: &mut Model) -> Step {
        Step {
            elements: self.elements.map(|p| p.apply(&mut m.elements)),
            data: self.data.map(|p| p.apply(&mut m.data)),
            layout: apply_map(self.layout, &mut m.layout),
            diagrams: self.diagrams.map(|p| p.apply(&mut m.diagrams)),
            decisions: apply_map(self.decisions, &mut m.decisions),
            rest: self.rest.map(|mut rest| {
                let parts = Parts::take(m);
                mem::swap(m, &mut *rest);
                parts.put(m);
                rest
            }),
        }
    }
}

impl Step {
    /// Adds the elements this step changes to `touched` (`None`: elements were added or
    /// removed, so positions are not comparable).
    fn touch(&self, touched: &mut Option<Vec<u32>>) {
        match &self.elements {
            None => {}
            Some(VecPatch::At(old)) => {
                if let Some(t) = touched {
                    t.extend(old.iter().map(|(k, _)| *k as u32));
                }
            }
            Some(VecPatch::Splice { .. }) => *touched = None,
        }
    }
}

/// The undo and redo steps of one model.
#[derive(Debug)]
pub struct History {
    /// The model as of the last recorded step.
    shadow: Model,
    undo: Vec<Step>,
    redo: Vec<Step>,
    /// The elements (by index) that recorded steps, undo and redo changed since
    /// [`History::take_touched`]; `None` if not known (elements added or removed, a new history).
    touched: Option<Vec<u32>>,
}

impl History {
    /// An empty history of `model`.
    pub fn new(model: &Model) -> History {
        History { shadow: model.clone(), undo: Vec::new(), redo: Vec::new(), touched: None }
    }

    /// The elements (by index) that changed in recorded steps, undos and redos since the last
    /// call, and starts counting again; `None` if that is not known.
    pub fn take_touched(&mut self) -> Option<Vec<u32>> {
        let mut t = self.touched.replace(Vec::new())?;
        t.sort_unstable();
        t.dedup();
        Some(t)
    }

    /// How many steps can be undone; each recorded state of the model has its own depth as long
    /// as it can be reached by undo or redo.
    pub fn depth(&self) -> usize {
        self.undo.len()
    }

    /// How many steps can be redone.
    pub fn redo_len(&self) -> usize {
        self.redo.len()
    }

    /// Records what changed in `model` since the last step as a new step (which clears what
    /// could be redone). Returns false, recording nothing, if nothing changed.
    pub fn commit(&mut self, model: &mut Model) -> bool {
        let Some(step) = Step::diff(&mut self.shadow, model) else { return false };
        step.touch(&mut self.touched);
        self.undo.push(step);
        self.redo.clear();
        true
    }

    /// Adds what changed in `model` since the last step to that step (typing on in one field).
    /// Returns the depth after: one less if the model is back where the step started (the step
    /// is dropped).
    pub fn amend(&mut self, model: &mut Model) -> usize {
        if let Some(last) = self.undo.pop() {
            last.touch(&mut self.touched);
            last.apply(&mut self.shadow);
        }
        self.commit(model);
        self.depth()
    }

    /// Undoes the last step in `model` (which must hold no unrecorded change); false if there
    /// is none.
    pub fn undo(&mut self, model: &mut Model) -> bool {
        let Some(step) = self.undo.pop() else { return false };
        step.touch(&mut self.touched);
        step.clone().apply(&mut self.shadow);
        self.redo.push(step.apply(model));
        true
    }

    /// Redoes the last undone step; false if there is none.
    pub fn redo(&mut self, model: &mut Model) -> bool {
        let Some(step) = self.redo.pop() else { return false };
        step.touch(&mut self.touched);
        step.clone().apply(&mut self.shadow);
        self.undo.push(step.apply(model));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list_edit() -> impl Strategy<Value = (u8, usize, u8)> {
        (0u8..4, 0usize..12, any::<u8>())
    }

    proptest! {
        /// A list patch turns the new list back into the old one, and its inverse forward again,
        /// whatever was inserted, removed or replaced.
        #[test]
        fn list_patches_undo_and_redo(start in prop::collection::vec(0u8..6, 0..10), edits in prop::collection::vec(list_edit(), 1..6)) {
            let mut now = start.clone();
            for (op, at, x) in edits {
                let at = at.min(now.len());
                match op {
                    0 => now.insert(at, x),
                    1 if at < now.len() => { now.remove(at); }
                    2 if at < now.len() => now[at] = x,
                    _ => now.truncate(at),
                }
            }
            let mut shadow = start.clone();
            let patch = VecPatch::diff(&mut shadow, &now);
            prop_assert_eq!(&shadow, &now);
            prop_assert_eq!(patch.is_none(), start == now);
            if let Some(p) = patch {
                let mut v = now.clone();
                let inverse = p.apply(&mut v);
                prop_assert_eq!(&v, &start);
                inverse.apply(&mut v);
                prop_assert_eq!(&v, &now);
            }
        }

        #[test]
        fn map_patches_undo_and_redo(
            start in prop::collection::btree_map(0u8..12, 0u8..4, 0..8),
            now in prop::collection::btree_map(0u8..12, 0u8..4, 0..8),
        ) {
            let mut shadow = start.clone();
            let patch = diff_map(&mut shadow, &now);
            prop_assert_eq!(&shadow, &now);
            prop_assert_eq!(patch.is_empty(), start == now);
            let mut m = now.clone();
            let inverse = apply_map(patch, &mut m);
            prop_assert_eq!(&m, &start);
            apply_map(inverse, &mut m);
            prop_assert_eq!(&m, &now);
        }
    }
}
