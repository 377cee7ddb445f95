//! The denormal guard for the audio thread.

/// Denormal (subnormal) floats flushed to zero while a block runs: a
/// decaying filter tail or feedback loop would otherwise slow to a crawl on
/// x86 once its state falls below 1e-38. The previous mode comes back when
/// the guard drops, so the audio thread's caller sees no change.
pub(super) struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
    #[cfg(target_arch = "aarch64")]
    saved: u64,
}

impl FlushDenormals {
    #[inline]
    pub(super) fn enable() -> FlushDenormals {
        #[cfg(target_arch = "x86_64")]
        {
            let mut saved: u32 = 0;
            // SAFETY: reads and writes MXCSR only; FTZ (bit 15) and DAZ
            // (bit 6) change how subnormals round, nothing else.
            unsafe {
                std::arch::asm!("stmxcsr [{}]", in(reg) &mut saved, options(nostack, preserves_flags));
                let on = saved | (1 << 15) | (1 << 6);
                std::arch::asm!("ldmxcsr [{}]", in(reg) &on, options(nostack, readonly, preserves_flags));
            }
            FlushDenormals { saved }
        }
        #[cfg(target_arch = "aarch64")]
        {
            let saved: u64;
            // SAFETY: reads and writes FPCR only; FZ (bit 24) flushes subnormals.
            unsafe {
                std::arch::asm!("mrs {}, fpcr", out(reg) saved, options(nomem, nostack, preserves_flags));
                std::arch::asm!("msr fpcr, {}", in(reg) saved | (1 << 24), options(nomem, nostack, preserves_flags));
            }
            FlushDenormals { saved }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        FlushDenormals {}
    }
}

impl Drop for FlushDenormals {
    #[inline]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: restores the MXCSR value read in `enable`.
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &self.saved, options(nostack, readonly, preserves_flags));
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: restores the FPCR value read in `enable`.
        unsafe {
            std::arch::asm!("msr fpcr, {}", in(reg) self.saved, options(nomem, nostack, preserves_flags));
        }
    }
}
