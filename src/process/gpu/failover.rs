//! The GPU backend a run uses: the streamed [`GpuChain`] with the CPU chain
//! behind it. A device fault (any wgpu error, a device loss) moves the run
//! to the CPU for good, and the CPIs that were in flight are processed
//! there from the host copies their ring slots kept, so none is lost. A CPI
//! whose crossings overflow the device's bounded list is redone on the CPU
//! (complete detections, never a silent cut). Every CPI processed on the
//! CPU counts in [`Backend::fallbacks`]. A ci16 CPI stays ci16 in flight;
//! the CPU converts its detection channel when it takes it.

use super::chain::{GpuChain, GpuChainOptions, GpuCompleted, GpuFault};
use super::context::{GpuContext, GpuError};
use crate::cpi::Cpi;
use crate::process::cpu::CpuChain;
use crate::process::{
    Backend, ChainPlan, CpiDetections, ProcessError, Processed, RangeDopplerMap, UploadStats,
};
use std::sync::Arc;

/// Streaming GPU backend with CPU fallback (see the module docs).
pub struct GpuBackend {
    gpu: Option<GpuChain>,
    cpu: Option<CpuChain>,
    plan: ChainPlan,
    adapter: String,
    fallbacks: u64,
    overflows: u64,
    fault: Option<String>,
    submitted: u64,
    /// Uploads of the chain, kept when a fault drops it.
    uploads: UploadStats,
    destroy_after: Option<u64>,
}

impl std::fmt::Debug for GpuBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuBackend")
            .field("adapter", &self.adapter)
            .field("fallbacks", &self.fallbacks)
            .field("fault", &self.fault)
            .finish_non_exhaustive()
    }
}

impl GpuBackend {
    /// Builds the GPU chain for `plan` on `ctx` (errors when the CPI does
    /// not fit the adapter: the caller decides whether to use the CPU).
    pub fn new(
        ctx: Arc<GpuContext>,
        plan: ChainPlan,
        options: GpuChainOptions,
    ) -> Result<Self, GpuError> {
        let adapter = ctx.adapter_info().name.clone();
        let gpu = GpuChain::with_options(ctx, plan.clone(), options)?;
        Ok(GpuBackend {
            gpu: Some(gpu),
            cpu: None,
            plan,
            adapter,
            fallbacks: 0,
            overflows: 0,
            fault: None,
            submitted: 0,
            uploads: UploadStats::default(),
            destroy_after: None,
        })
    }

    /// The fault that moved the run to the CPU, if one did.
    pub fn fault(&self) -> Option<&str> {
        self.fault.as_deref()
    }

    /// CPIs redone on the CPU because the device list overflowed.
    pub fn overflows(&self) -> u64 {
        self.overflows
    }

    /// Test hook: destroys the device (as a driver crash would) just before
    /// the CPI after the first `cpis` submitted.
    #[doc(hidden)]
    pub fn destroy_device_after(&mut self, cpis: u64) {
        self.destroy_after = Some(cpis);
    }

    /// Drops the chain for good, keeping its upload counters.
    fn drop_gpu(&mut self) {
        if let Some(g) = self.gpu.take() {
            self.uploads = g.uploads();
        }
    }

    fn cpu(&mut self) -> &mut CpuChain {
        let plan = &self.plan;
        self.cpu.get_or_insert_with(|| CpuChain::new(plan.clone()))
    }

    fn on_cpu(&mut self, cpi: &Cpi) -> Result<CpiDetections, ProcessError> {
        self.fallbacks += 1;
        self.cpu().process(cpi)
    }

    fn on_fault(&mut self, fault: GpuFault, done: &mut Vec<Processed>) {
        let error = fault.error.to_string();
        tracing::warn!(
            "GPU failed ({error}); {} CPI(s) in flight and the rest of the run go to the CPU backend",
            fault.in_flight.len()
        );
        self.fault = Some(error);
        self.drop_gpu();
        for cpi in fault.in_flight {
            let result = self.on_cpu(&cpi);
            done.push(Processed { cpi, result });
        }
    }

    fn completed(&mut self, c: GpuCompleted, done: &mut Vec<Processed>) {
        let Some(cpi) = c.cpi else {
            return; // only CPIs by value reach the streaming path
        };
        let result = match c.result {
            Err(ProcessError::DetectionOverflow {
                cpi: index,
                found,
                capacity,
            }) => {
                self.overflows += 1;
                tracing::warn!(
                    "CPI {index}: {found} CFAR crossings overflow the GPU list of {capacity}; \
                     redone on the CPU"
                );
                self.on_cpu(&cpi)
            }
            r => r,
        };
        done.push(Processed { cpi, result });
    }

    fn collect_oldest(&mut self, done: &mut Vec<Processed>) {
        let Some(gpu) = self.gpu.as_mut() else { return };
        match gpu.collect() {
            Ok(Some(c)) => self.completed(c, done),
            Ok(None) => {}
            Err(f) => self.on_fault(f, done),
        }
    }
}

impl Backend for GpuBackend {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn process(&mut self, cpi: &Cpi) -> Result<CpiDetections, ProcessError> {
        let Some(gpu) = self.gpu.as_mut() else {
            return self.on_cpu(cpi);
        };
        match gpu.process(cpi) {
            Err(ProcessError::DetectionOverflow { .. }) => {
                self.overflows += 1;
                self.on_cpu(cpi)
            }
            Err(ProcessError::Gpu(e)) => {
                tracing::warn!("GPU failed ({e}); the run goes on on the CPU backend");
                self.fault = Some(e);
                self.drop_gpu();
                self.on_cpu(cpi)
            }
            r => r,
        }
    }

    fn push(&mut self, cpi: Cpi, done: &mut Vec<Processed>) {
        // Back-pressure: a full ring waits for its oldest CPI.
        while self.gpu.as_ref().is_some_and(|g| !g.has_free_slot()) {
            self.collect_oldest(done);
        }
        if self.destroy_after == Some(self.submitted)
            && let Some(gpu) = &self.gpu
        {
            gpu.context().destroy_for_test();
        }
        let Some(gpu) = self.gpu.as_mut() else {
            let result = self.on_cpu(&cpi);
            done.push(Processed { cpi, result });
            return;
        };
        self.submitted += 1;
        if let Err(f) = gpu.submit(cpi) {
            self.on_fault(f, done);
        }
    }

    fn flush(&mut self, done: &mut Vec<Processed>) {
        while self.gpu.as_ref().is_some_and(|g| g.in_flight() > 0) {
            self.collect_oldest(done);
        }
    }

    fn last_map(&self) -> Option<&RangeDopplerMap> {
        match (&self.gpu, &self.cpu) {
            (Some(g), _) => g.last_map(),
            (None, Some(c)) => c.last_map(),
            (None, None) => None,
        }
    }

    fn adapter(&self) -> Option<String> {
        Some(self.adapter.clone())
    }

    fn fallbacks(&self) -> u64 {
        self.fallbacks
    }

    fn uploads(&self) -> Option<UploadStats> {
        Some(self.gpu.as_ref().map_or(self.uploads, |g| g.uploads()))
    }

    fn takes_ci16(&self) -> bool {
        self.gpu.is_some()
    }
}
