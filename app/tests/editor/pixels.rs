//! Reading a screenshot and checking it as a person would look at it: a
//! title bar with text for every node, the domain colour of every wire.

use ohmpatch_engine::Params;
use ohmpatch_patch::{Direction, Domain, Patch};
use std::collections::BTreeSet;
use std::path::Path;

pub struct Png {
    pub w: usize,
    pub h: usize,
    pub rgb: Vec<[u8; 3]>,
}

pub fn read_png(p: &Path) -> Png {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(p).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    let ch = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    let (w, h) = (info.width as usize, info.height as usize);
    let rgb = (0..w * h)
        .map(|i| [buf[i * ch], buf[i * ch + 1], buf[i * ch + 2]])
        .collect();
    Png { w, h, rgb }
}

/// The colours the editor draws with (app/src/editor/theme.rs).
fn domain_rgb(d: Domain) -> [u8; 3] {
    match d {
        Domain::Acoustic => [0x3c, 0xb4, 0x4b],
        Domain::Mic => [0x42, 0xa5, 0xf5],
        Domain::Instrument => [0xab, 0x47, 0xbc],
        Domain::Line => [0xff, 0xc1, 0x07],
        Domain::Speaker => [0xef, 0x53, 0x50],
        Domain::Digital => [0xb0, 0xbe, 0xc5],
    }
}
const HEADER_RGB: [u8; 3] = [0x34, 0x3a, 0x55];

fn near(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
    (0..3).all(|i| (i32::from(a[i]) - i32::from(b[i])).abs() <= tol)
}

/// What a screenshot of a patch must show.
pub struct Expect {
    pub nodes: usize,
    /// Domains of the wires' source ports.
    pub wire_domains: BTreeSet<Domain>,
}

pub fn expectations(patch: &Patch) -> Expect {
    let registry = ohmpatch_nodes::registry();
    let mut wire_domains = BTreeSet::new();
    for w in &patch.wires {
        let node = &patch.nodes[&w.from.node];
        let kind = registry.get(&node.kind).unwrap();
        let spec = kind.spec();
        let elec = kind.electrical(&Params::resolve(spec, &node.params));
        let i = spec
            .ports
            .iter()
            .position(|p| p.name == w.from.port && p.direction == Direction::Out)
            .unwrap();
        wire_domains.insert(elec[i].domain);
    }
    Expect {
        nodes: patch.nodes.len(),
        wire_domains,
    }
}

/// Check a screenshot; `Err` says what is missing.
pub fn check_pixels(img: &Png, e: &Expect) -> Result<(), String> {
    // The canvas: left of the inspector, between the menu and status bars.
    let (x0, x1, y0, y1) = (0, img.w.saturating_sub(360), 30, img.h.saturating_sub(30));
    let px = |x: usize, y: usize| img.rgb[y * img.w + x];
    let distinct: BTreeSet<[u8; 3]> = img.rgb.iter().copied().collect();
    if distinct.len() < 40 {
        return Err(format!(
            "the frame is nearly uniform ({} colours)",
            distinct.len()
        ));
    }
    // Node title bars: pixels of the header colour, and bright (text)
    // pixels among them, in separate regions, at least one per node.
    let mut header = vec![false; img.w * img.h];
    let mut header_px = 0usize;
    let mut text_px = 0usize;
    for y in y0..y1 {
        for x in x0..x1 {
            if near(px(x, y), HEADER_RGB, 2) {
                header[y * img.w + x] = true;
                header_px += 1;
            }
        }
    }
    for y in y0 + 1..y1 - 1 {
        for x in x0 + 1..x1 - 1 {
            let c = px(x, y);
            let lum = (u32::from(c[0]) + u32::from(c[1]) + u32::from(c[2])) / 3;
            if lum > 150
                && (header[y * img.w + x - 1]
                    || header[y * img.w + x + 1]
                    || header[(y - 1) * img.w + x]
                    || header[(y + 1) * img.w + x])
            {
                text_px += 1;
            }
        }
    }
    // Connected regions of header colour (4-neighbour flood fill).
    let mut seen = vec![false; img.w * img.h];
    let mut regions = 0;
    for start in 0..header.len() {
        if !header[start] || seen[start] {
            continue;
        }
        let mut stack = vec![start];
        seen[start] = true;
        let mut area = 0;
        while let Some(i) = stack.pop() {
            area += 1;
            let (x, y) = (i % img.w, i / img.w);
            let mut push = |j: usize| {
                if header[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                push(i - 1);
            }
            if x + 1 < img.w {
                push(i + 1);
            }
            if y > 0 {
                push(i - img.w);
            }
            if y + 1 < img.h {
                push(i + img.w);
            }
        }
        if area >= 60 {
            regions += 1;
        }
    }
    if regions < e.nodes {
        return Err(format!(
            "{regions} node title bars found for {} nodes ({header_px} title-bar pixels)",
            e.nodes
        ));
    }
    if header_px < e.nodes * 300 {
        return Err(format!(
            "only {header_px} title-bar pixels for {} nodes",
            e.nodes
        ));
    }
    if text_px < e.nodes * 20 {
        return Err(format!(
            "only {text_px} text pixels on the title bars of {} nodes",
            e.nodes
        ));
    }
    // Wires and pins in their domain colours.
    for d in &e.wire_domains {
        let want = domain_rgb(*d);
        let mut n = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                if near(px(x, y), want, 12) {
                    n += 1;
                }
            }
        }
        if n < 150 {
            return Err(format!(
                "only {n} pixels in the colour of {} wires",
                d.name()
            ));
        }
    }
    Ok(())
}
