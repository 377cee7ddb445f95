//! The node canvas: an egui-snarl graph that mirrors the patch. The patch
//! (through its history) is the truth; the Snarl is synced from it after
//! every change, and what the user does on the Snarl comes back as actions.

use super::live::{Live, wire_key};
use super::palette;
use super::plots::probe_plot;
use super::theme::{self, domain_color};
use super::{Action, NewNode};
use bevy_egui::egui::{self, Color32, Pos2, Rect, RichText, Ui, emath::TSTransform};
use egui_snarl::ui::{
    AnyPins, PinInfo, PinPlacement, PinShape, PinWireInfo, SnarlPin, SnarlStyle, SnarlViewer,
    SnarlWidget,
};
use egui_snarl::{InPin, InPinId, NodeId, OutPin, OutPinId, Snarl};
use ohmpatch_engine::{Display, Params, Registry};
use ohmpatch_patch::{Direction, Domain, Endpoint, Patch, Wire};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

pub const CANVAS_ID: &str = "ohmpatch-canvas";

#[derive(Clone, Debug)]
pub struct PortView {
    pub name: String,
    pub domain: Domain,
}

#[derive(Clone, Debug)]
pub struct NodeView {
    pub id: String,
    pub kind: String,
    pub ins: Vec<PortView>,
    pub outs: Vec<PortView>,
    /// What the node draws in its body (probes).
    pub display: Option<Display>,
}

/// Where each pin was drawn last frame (graph coordinates), by
/// (node, port, is_output).
pub type PinMap = Rc<RefCell<HashMap<(String, String, bool), Pos2>>>;

pub struct Canvas {
    pub snarl: Snarl<NodeView>,
    pub index: HashMap<String, NodeId>,
    /// Node rectangles from the last frame, graph coordinates.
    pub rects: HashMap<String, Rect>,
    pub pins: PinMap,
    pub to_global: TSTransform,
    /// Frames left before fitting the view to the nodes (their sizes are
    /// known only after they were drawn once).
    pub fit_in: u8,
    pub rect: Rect,
    pub synced_rev: u64,
    /// A dialog is open: the wire meters do not answer the pointer.
    pub blocked: bool,
    /// The wire whose meter was clicked: its menu is open.
    pub wire_menu: Option<(Wire, Pos2)>,
}

impl Default for Canvas {
    fn default() -> Self {
        Canvas {
            snarl: Snarl::new(),
            index: HashMap::new(),
            rects: HashMap::new(),
            pins: Rc::new(RefCell::new(HashMap::new())),
            to_global: TSTransform::IDENTITY,
            fit_in: 2,
            rect: Rect::NOTHING,
            synced_rev: 0,
            wire_menu: None,
            blocked: false,
        }
    }
}

pub fn node_view(registry: &Registry, id: &str, node: &ohmpatch_patch::Node) -> NodeView {
    let mut v = NodeView {
        id: id.to_string(),
        kind: node.kind.clone(),
        ins: Vec::new(),
        outs: Vec::new(),
        display: None,
    };
    if let Some(kind) = registry.of(node) {
        v.display = kind.display();
        let spec = kind.spec();
        let elec = kind.electrical(&Params::resolve(spec, &node.params));
        for (i, p) in spec.ports.iter().enumerate() {
            let domain = elec.get(i).map(|e| e.domain).unwrap_or(p.domain);
            let pv = PortView {
                name: p.name.to_string(),
                domain,
            };
            match p.direction {
                Direction::In => v.ins.push(pv),
                Direction::Out => v.outs.push(pv),
            }
        }
    }
    v
}

impl Canvas {
    /// Make the Snarl show `patch`, keeping the ids of nodes that stay.
    pub fn sync(&mut self, patch: &Patch, registry: &Registry) {
        let gone: Vec<(String, NodeId)> = self
            .index
            .iter()
            .filter(|(id, _)| !patch.nodes.contains_key(*id))
            .map(|(id, n)| (id.clone(), *n))
            .collect();
        for (id, n) in gone {
            self.snarl.remove_node(n);
            self.index.remove(&id);
            self.rects.remove(&id);
        }
        for (id, node) in &patch.nodes {
            let view = node_view(registry, id, node);
            let pos = Pos2::new(node.pos.0, node.pos.1);
            match self.index.get(id) {
                Some(&n) => {
                    let info = self.snarl.get_node_info_mut(n).expect("indexed");
                    if info.pos != pos {
                        info.pos = pos;
                    }
                    let same = info.value.kind == view.kind
                        && info.value.ins.len() == view.ins.len()
                        && info.value.outs.len() == view.outs.len();
                    if same {
                        info.value = view;
                    } else {
                        // Port counts changed: a fresh node drops stale pins.
                        self.snarl.remove_node(n);
                        let n = self.snarl.insert_node(pos, view);
                        self.index.insert(id.clone(), n);
                    }
                }
                None => {
                    let n = self.snarl.insert_node(pos, view);
                    self.index.insert(id.clone(), n);
                }
            }
        }
        // Wires.
        let mut want: HashSet<(OutPinId, InPinId)> = HashSet::new();
        for w in &patch.wires {
            if let Some(p) = self.pin_ids(w) {
                want.insert(p);
            }
        }
        let have: Vec<(OutPinId, InPinId)> = self.snarl.wires().collect();
        for (o, i) in &have {
            if !want.contains(&(*o, *i)) {
                self.snarl.disconnect(*o, *i);
            }
        }
        let have: HashSet<(OutPinId, InPinId)> = have.into_iter().collect();
        for (o, i) in want {
            if !have.contains(&(o, i)) {
                self.snarl.connect(o, i);
            }
        }
    }

    fn pin_ids(&self, w: &Wire) -> Option<(OutPinId, InPinId)> {
        let from = *self.index.get(&w.from.node)?;
        let to = *self.index.get(&w.to.node)?;
        let o = self.snarl.get_node(from)?;
        let i = self.snarl.get_node(to)?;
        let op = o.outs.iter().position(|p| p.name == w.from.port)?;
        let ip = i.ins.iter().position(|p| p.name == w.to.port)?;
        Some((
            OutPinId {
                node: from,
                output: op,
            },
            InPinId {
                node: to,
                input: ip,
            },
        ))
    }

    pub fn id_of(&self, n: NodeId) -> Option<String> {
        self.snarl.get_node(n).map(|v| v.id.clone())
    }

    /// Ids of the nodes selected on the canvas.
    pub fn selected(&self, ctx: &egui::Context) -> Vec<String> {
        egui_snarl::ui::get_selected_nodes(egui::Id::new(CANVAS_ID), ctx)
            .into_iter()
            .filter_map(|n| self.id_of(n))
            .collect()
    }

    /// Graph coordinates of a screen point.
    pub fn to_graph(&self, p: Pos2) -> Pos2 {
        self.to_global.inverse() * p
    }

    /// The centre of the visible canvas, in graph coordinates.
    pub fn view_center(&self) -> Pos2 {
        if self.rect.is_positive() {
            self.to_graph(self.rect.center())
        } else {
            Pos2::new(200.0, 200.0)
        }
    }
}

pub fn style() -> SnarlStyle {
    SnarlStyle {
        pin_placement: Some(PinPlacement::Edge),
        pin_size: Some(10.0),
        wire_width: Some(3.0),
        collapsible: Some(false),
        min_scale: Some(0.1),
        max_scale: Some(2.0),
        centering: Some(false),
        node_frame: Some(
            egui::Frame::new()
                .fill(theme::NODE_FILL)
                .stroke(egui::Stroke::new(1.0, Color32::from_gray(80)))
                .corner_radius(6.0)
                .inner_margin(egui::Margin::same(6)),
        ),
        header_frame: Some(
            egui::Frame::new()
                .fill(theme::NODE_HEADER)
                .corner_radius(6.0)
                .inner_margin(egui::Margin::symmetric(8, 4)),
        ),
        bg_frame: Some(egui::Frame::new().fill(theme::CANVAS)),
        ..SnarlStyle::new()
    }
}

/// A pin drawn by egui-snarl that also remembers where it was drawn.
struct RecPin {
    info: PinInfo,
    key: (String, String, bool),
    pins: PinMap,
}

impl SnarlPin for RecPin {
    fn draw(
        self,
        snarl_style: &SnarlStyle,
        style: &egui::Style,
        rect: Rect,
        painter: &egui::Painter,
    ) -> PinWireInfo {
        self.pins.borrow_mut().insert(self.key, rect.center());
        self.info.draw(snarl_style, style, rect, painter)
    }
}

pub struct Viewer<'a> {
    pub patch: &'a Patch,
    pub registry: &'a Registry,
    pub live: &'a Live,
    pub actions: &'a mut Vec<Action>,
    pub pins: PinMap,
    pub rects: &'a mut HashMap<String, Rect>,
    pub fit_in: &'a mut u8,
    pub canvas_rect: Rect,
    pub to_global: &'a mut TSTransform,
    pub query: &'a mut String,
    pub focused: &'a mut Option<String>,
    pub warned_inputs: HashSet<(String, String)>,
    /// Output pins all of whose wires are warned about.
    pub warned_outputs: HashSet<(String, String)>,
    pub press: Option<Pos2>,
}

impl Viewer<'_> {
    fn endpoint_out(snarl: &Snarl<NodeView>, pin: OutPinId) -> Option<Endpoint> {
        let n = snarl.get_node(pin.node)?;
        Some(Endpoint::new(
            n.id.clone(),
            n.outs.get(pin.output)?.name.clone(),
        ))
    }
    fn endpoint_in(snarl: &Snarl<NodeView>, pin: InPinId) -> Option<Endpoint> {
        let n = snarl.get_node(pin.node)?;
        Some(Endpoint::new(
            n.id.clone(),
            n.ins.get(pin.input)?.name.clone(),
        ))
    }
}

impl SnarlViewer<NodeView> for Viewer<'_> {
    fn title(&mut self, node: &NodeView) -> String {
        node.id.clone()
    }

    fn node_frame(
        &mut self,
        default: egui::Frame,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        snarl: &Snarl<NodeView>,
    ) -> egui::Frame {
        if self.focused.as_deref() == Some(snarl[node].id.as_str()) {
            default.stroke(egui::Stroke::new(2.0, theme::FOCUS))
        } else {
            default
        }
    }

    fn show_header(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<NodeView>,
    ) {
        let v = &snarl[node];
        let focused = self.focused.as_deref() == Some(v.id.as_str());
        ui.horizontal(|ui| {
            let title = RichText::new(&v.id).strong().size(15.0);
            ui.label(if focused {
                title.color(Color32::WHITE)
            } else {
                title
            });
            ui.label(RichText::new(&v.kind).small().weak());
            if self.live.node_warnings.contains_key(&v.id) {
                ui.label(RichText::new("⚠").color(theme::WARN))
                    .on_hover_text(self.live.node_warnings[&v.id].join("\n"));
            }
            if self.registry.get(&v.kind).is_none() {
                ui.label(RichText::new("unknown kind").color(theme::ERROR));
            }
        });
    }

    fn inputs(&mut self, node: &NodeView) -> usize {
        node.ins.len()
    }

    fn outputs(&mut self, node: &NodeView) -> usize {
        node.outs.len()
    }

    fn show_input(
        &mut self,
        pin: &InPin,
        ui: &mut Ui,
        snarl: &mut Snarl<NodeView>,
    ) -> impl SnarlPin + 'static {
        let v = &snarl[pin.id.node];
        let p = &v.ins[pin.id.input];
        let c = domain_color(p.domain);
        ui.label(RichText::new(format!("{} · {}", p.name, p.domain.name())).color(c))
            .on_hover_text(format!("input, {} domain", p.domain.name()));
        let warned = self.warned_inputs.contains(&(v.id.clone(), p.name.clone()));
        let mut info = PinInfo::circle().with_fill(c).with_wire_color(c);
        if warned {
            info = info.with_shape(PinShape::Star).with_wire_color(theme::WARN);
        }
        RecPin {
            info,
            key: (v.id.clone(), p.name.clone(), false),
            pins: self.pins.clone(),
        }
    }

    fn show_output(
        &mut self,
        pin: &OutPin,
        ui: &mut Ui,
        snarl: &mut Snarl<NodeView>,
    ) -> impl SnarlPin + 'static {
        let v = &snarl[pin.id.node];
        let p = &v.outs[pin.id.output];
        let c = domain_color(p.domain);
        ui.label(RichText::new(format!("{} · {}", p.domain.name(), p.name)).color(c))
            .on_hover_text(format!("output, {} domain", p.domain.name()));
        let warned = self
            .warned_outputs
            .contains(&(v.id.clone(), p.name.clone()));
        RecPin {
            info: PinInfo::circle().with_fill(c).with_wire_color(if warned {
                theme::WARN
            } else {
                c
            }),
            key: (v.id.clone(), p.name.clone(), true),
            pins: self.pins.clone(),
        }
    }

    fn has_body(&mut self, node: &NodeView) -> bool {
        node.display.is_some()
    }

    fn show_body(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<NodeView>,
    ) {
        let v = &snarl[node];
        if let Some(d) = v.display {
            probe_plot(ui, self.live, &v.id, d, false);
        }
    }

    fn final_node_rect(
        &mut self,
        node: NodeId,
        rect: Rect,
        _ui: &mut Ui,
        snarl: &mut Snarl<NodeView>,
    ) {
        let id = snarl[node].id.clone();
        if let Some(p) = self.press
            && rect.contains(self.to_global.inverse() * p)
        {
            *self.focused = Some(id.clone());
        }
        self.rects.insert(id, rect);
    }

    fn has_graph_menu(&mut self, _pos: Pos2, _snarl: &mut Snarl<NodeView>) -> bool {
        true
    }

    fn show_graph_menu(&mut self, pos: Pos2, ui: &mut Ui, _snarl: &mut Snarl<NodeView>) {
        ui.label(RichText::new("Add node").strong());
        if let Some(kind) = palette::list(ui, self.registry, self.query, None) {
            self.actions.push(Action::AddNode(NewNode {
                kind,
                pos: (pos.x, pos.y),
                from: None,
                to: None,
                split: None,
            }));
            self.query.clear();
            ui.close();
        }
    }

    fn has_dropped_wire_menu(&mut self, _src: AnyPins, _snarl: &mut Snarl<NodeView>) -> bool {
        true
    }

    fn show_dropped_wire_menu(
        &mut self,
        pos: Pos2,
        ui: &mut Ui,
        src: AnyPins,
        snarl: &mut Snarl<NodeView>,
    ) {
        let (fit, from, to) = match src {
            AnyPins::Out(pins) => {
                let Some(first) = pins.first() else { return };
                let d = snarl[first.node].outs[first.output].domain;
                (
                    Some((Direction::In, d)),
                    pins.iter()
                        .filter_map(|p| Self::endpoint_out(snarl, *p))
                        .collect::<Vec<_>>(),
                    Vec::new(),
                )
            }
            AnyPins::In(pins) => {
                let Some(first) = pins.first() else { return };
                let d = snarl[first.node].ins[first.input].domain;
                (
                    Some((Direction::Out, d)),
                    Vec::new(),
                    pins.iter()
                        .filter_map(|p| Self::endpoint_in(snarl, *p))
                        .collect::<Vec<_>>(),
                )
            }
        };
        ui.label(RichText::new("Add a node that fits").strong());
        if let Some(kind) = palette::list(ui, self.registry, self.query, fit) {
            self.actions.push(Action::AddNode(NewNode {
                kind,
                pos: (pos.x, pos.y),
                from: from.first().cloned(),
                to: to.first().cloned(),
                split: None,
            }));
            self.query.clear();
            ui.close();
        }
    }

    fn has_node_menu(&mut self, _node: &NodeView) -> bool {
        true
    }

    fn show_node_menu(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<NodeView>,
    ) {
        let id = snarl[node].id.clone();
        ui.label(RichText::new(&id).strong());
        if ui.button("Inspect").clicked() {
            *self.focused = Some(id.clone());
            ui.close();
        }
        if ui.button("Duplicate  (Ctrl+D)").clicked() {
            self.actions.push(Action::Duplicate(vec![id.clone()]));
            ui.close();
        }
        if ui.button("Copy  (Ctrl+C)").clicked() {
            self.actions.push(Action::Copy(vec![id.clone()]));
            ui.close();
        }
        if ui.button("Disconnect all").clicked() {
            let wires: Vec<Wire> = self.patch.wires_of(&id).cloned().collect();
            self.actions.push(Action::Disconnect(wires));
            ui.close();
        }
        if ui.button("Delete  (Del)").clicked() {
            self.actions.push(Action::Delete(vec![id]));
            ui.close();
        }
    }

    fn connect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<NodeView>) {
        if let (Some(a), Some(b)) = (
            Self::endpoint_out(snarl, from.id),
            Self::endpoint_in(snarl, to.id),
        ) {
            self.actions.push(Action::Connect(Wire::new(a, b)));
        }
    }

    fn disconnect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<NodeView>) {
        if let (Some(a), Some(b)) = (
            Self::endpoint_out(snarl, from.id),
            Self::endpoint_in(snarl, to.id),
        ) {
            self.actions.push(Action::Disconnect(vec![Wire::new(a, b)]));
        }
    }

    fn drop_outputs(&mut self, pin: &OutPin, snarl: &mut Snarl<NodeView>) {
        if let Some(a) = Self::endpoint_out(snarl, pin.id) {
            let wires = self.patch.wires.iter().filter(|w| w.from == a).cloned();
            self.actions.push(Action::Disconnect(wires.collect()));
        }
    }

    fn drop_inputs(&mut self, pin: &InPin, snarl: &mut Snarl<NodeView>) {
        if let Some(b) = Self::endpoint_in(snarl, pin.id) {
            let wires = self.patch.wires.iter().filter(|w| w.to == b).cloned();
            self.actions.push(Action::Disconnect(wires.collect()));
        }
    }

    fn current_transform(&mut self, to_global: &mut TSTransform, _snarl: &mut Snarl<NodeView>) {
        if *self.fit_in > 0 {
            *self.fit_in -= 1;
            if *self.fit_in == 0 {
                if let Some(t) = fit_transform(self.rects.values(), self.canvas_rect) {
                    *to_global = t;
                } else {
                    *to_global = TSTransform::from_translation(
                        self.canvas_rect.min.to_vec2() + egui::vec2(40.0, 40.0),
                    );
                }
            }
        }
        *self.to_global = *to_global;
    }
}

/// The transform that shows every node rectangle inside `view`.
pub fn fit_transform<'a>(rects: impl Iterator<Item = &'a Rect>, view: Rect) -> Option<TSTransform> {
    let bb = rects.fold(Rect::NOTHING, |a, r| a.union(*r));
    if !bb.is_positive() || !view.is_positive() {
        return None;
    }
    let bb = bb.expand(40.0);
    let scale = (view.width() / bb.width())
        .min(view.height() / bb.height())
        .clamp(0.1, 1.5);
    Some(TSTransform {
        scaling: scale,
        translation: view.center().to_vec2() - bb.center().to_vec2() * scale,
    })
}

/// Draw the canvas; returns the actions the user took on it.
#[allow(clippy::too_many_arguments)]
pub fn show(
    ui: &mut Ui,
    canvas: &mut Canvas,
    patch: &Patch,
    registry: &Registry,
    live: &Live,
    query: &mut String,
    focused: &mut Option<String>,
    actions: &mut Vec<Action>,
) {
    canvas.rect = ui.available_rect_before_wrap();
    let is_warned = |w: &Wire| {
        live.wires
            .get(&wire_key(&w.from.to_string(), &w.to.to_string()))
            .is_some_and(|i| !i.warnings.is_empty())
    };
    let warned_inputs: HashSet<(String, String)> = patch
        .wires
        .iter()
        .filter(|w| is_warned(w))
        .map(|w| (w.to.node.clone(), w.to.port.clone()))
        .collect();
    let warned_outputs: HashSet<(String, String)> = patch
        .wires
        .iter()
        .filter(|w| {
            patch
                .wires
                .iter()
                .filter(|x| x.from == w.from)
                .all(&is_warned)
        })
        .map(|w| (w.from.node.clone(), w.from.port.clone()))
        .collect();
    let press = ui
        .input(|i| {
            if i.pointer.primary_pressed() {
                i.pointer.interact_pos()
            } else {
                None
            }
        })
        .filter(|p| canvas.rect.contains(*p) && !ui.ctx().is_pointer_over_egui_popup());
    let mut to_global = canvas.to_global;
    let mut viewer = Viewer {
        patch,
        registry,
        live,
        actions,
        pins: canvas.pins.clone(),
        rects: &mut canvas.rects,
        fit_in: &mut canvas.fit_in,
        canvas_rect: canvas.rect,
        to_global: &mut to_global,
        query,
        focused,
        warned_inputs,
        warned_outputs,
        press,
    };
    SnarlWidget::new()
        .id(egui::Id::new(CANVAS_ID))
        .style(style())
        .show(&mut canvas.snarl, &mut viewer, ui);
    canvas.to_global = to_global;
    // A click on empty canvas (not on a node, not on a wire meter) clears
    // the inspector back to the patch.
    if let Some(p) = press {
        let g = to_global.inverse() * p;
        let on_node = canvas.rects.values().any(|r| r.contains(g));
        if !on_node && canvas.wire_menu.is_none() && !ui.ctx().is_pointer_over_area_above_canvas() {
            *focused = None;
        }
    }
    super::wires::overlay(ui, canvas, patch, live, actions);
}

trait PopupCheck {
    fn is_pointer_over_egui_popup(&self) -> bool;
    fn is_pointer_over_area_above_canvas(&self) -> bool;
}
impl PopupCheck for egui::Context {
    fn is_pointer_over_egui_popup(&self) -> bool {
        egui::Popup::is_any_open(self) && self.is_pointer_over_egui()
    }
    /// Whether a window (the palette, a dialog) is under the pointer.
    fn is_pointer_over_area_above_canvas(&self) -> bool {
        self.layer_id_at(self.pointer_interact_pos().unwrap_or_default())
            .is_some_and(|l| l.order >= egui::Order::Middle)
    }
}
