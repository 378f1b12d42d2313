//! Resident set size of one process.

use super::portable::{refresh_rss, SysProcess};
use super::{this_pid, Backend, Probe, ProbeError, Sample, Unit};

/// Resident set size of one process: a kept-open `/proc/PID/statm` re-read with `pread`, or
/// sysinfo (see [`Backend`]).
#[derive(Debug)]
pub struct RssProbe {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Proc(Statm),
    Sysinfo(SysProcess),
}

impl RssProbe {
    /// This process.
    pub fn this_process() -> Result<Self, ProbeError> {
        Self::pid(this_pid())
    }

    /// Any process, through the platform's default [`Backend`].
    pub fn pid(pid: u32) -> Result<Self, ProbeError> {
        Self::with_backend(pid, Backend::default())
    }

    /// Any process, through `backend` (`Unsupported` where it is not available).
    pub fn with_backend(pid: u32, backend: Backend) -> Result<Self, ProbeError> {
        let inner = match backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Proc => Inner::Proc(Statm::open(pid)?),
            Backend::Sysinfo => Inner::Sysinfo(SysProcess::open(pid, refresh_rss())?),
            #[allow(unreachable_patterns)]
            _ => return Err(super::no_proc("the /proc backend")),
        };
        Ok(RssProbe { inner })
    }

    /// Resident bytes now.
    pub fn rss_bytes(&mut self) -> Result<u64, ProbeError> {
        match &mut self.inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Proc(statm) => statm.rss_bytes(),
            Inner::Sysinfo(p) => p.rss(),
        }
    }
}

impl Probe for RssProbe {
    fn sample(&mut self) -> Result<Sample, ProbeError> {
        Ok(Sample {
            value: self.rss_bytes()? as f64,
            unit: Unit::Bytes,
        })
    }
}

/// A kept-open `/proc/PID/statm`.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Debug)]
pub(super) struct Statm {
    pid: u32,
    statm: std::fs::File,
    page: u64,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Statm {
    pub(super) fn open(pid: u32) -> Result<Statm, ProbeError> {
        use super::procfs::{open_proc, page_size};
        let mut s = Statm {
            pid,
            statm: open_proc(pid, "statm")?,
            page: page_size(),
        };
        s.rss_bytes()?;
        Ok(s)
    }

    pub(super) fn rss_bytes(&mut self) -> Result<u64, ProbeError> {
        use super::procfs::{bad_format, is_zombie, parse_u64, pread_all};
        let mut buf = [0u8; 256];
        let text = pread_all(&self.statm, self.pid, &mut buf)?;
        let mut fields = text.split(|c| c.is_ascii_whitespace());
        let size = fields.next().and_then(parse_u64);
        let resident = fields.next().and_then(parse_u64);
        match (size, resident) {
            // A zombie has an empty address space; a live process never does.
            (Some(0), _) if self.pid != this_pid() && is_zombie(self.pid) => {
                Err(ProbeError::Gone { pid: self.pid })
            }
            (Some(_), Some(r)) => Ok(r * self.page),
            _ => Err(bad_format("statm", self.pid)),
        }
    }
}
