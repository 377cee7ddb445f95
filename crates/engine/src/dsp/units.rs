//! Level units: dBu, dBV, dB SPL and plain gain.

/// 0 dBu in volts rms.
pub const DBU_REF_V: f64 = 0.774_596_669_241_483_4;
/// 0 dB SPL in pascals rms.
pub const SPL_REF_PA: f64 = 20e-6;

pub fn dbu_to_v(dbu: f64) -> f64 {
    DBU_REF_V * 10f64.powf(dbu / 20.0)
}
pub fn v_to_dbu(v: f64) -> f64 {
    20.0 * (v / DBU_REF_V).log10()
}
pub fn dbv_to_v(dbv: f64) -> f64 {
    10f64.powf(dbv / 20.0)
}
pub fn v_to_dbv(v: f64) -> f64 {
    20.0 * v.log10()
}
pub fn spl_to_pa(db: f64) -> f64 {
    SPL_REF_PA * 10f64.powf(db / 20.0)
}
pub fn pa_to_spl(pa: f64) -> f64 {
    20.0 * (pa / SPL_REF_PA).log10()
}
pub fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}
pub fn gain_to_db(g: f64) -> f64 {
    20.0 * g.log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_levels() {
        assert!((dbu_to_v(4.0) - 1.228).abs() < 1e-3);
        assert!((v_to_dbu(0.7746) - 0.0).abs() < 1e-3);
        assert!((pa_to_spl(1.0) - 93.98).abs() < 0.01);
    }
}
