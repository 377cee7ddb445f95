//! PNG plots of a measurement.
use ohmpatch_nodes::bench::Report;

pub fn write_png(_file: &std::path::Path, _r: &Report) -> Result<(), String> {
    Err("PNG plots are not available yet".into())
}
