// Which backend runs which device. Backends are registered explicitly in
// registry.cpp (guarded by LOOM_WITH_ONEDNN / LOOM_WITH_CUDA).
#pragma once

#include <string>
#include <vector>

#include "loom/backends/backend.h"

namespace loom {

// The backend that currently serves `device` (for the CPU: the one chosen by
// set_cpu_backend, the LOOM_BACKEND environment variable, or the fastest
// built one; for cuda:N the CUDA backend of device N). Throws naming the
// device when this build or machine has no such device.
Backend& backend_for(Device device);

// Whether this build has the CUDA backend (LOOM_WITH_CUDA=ON), and how many
// CUDA devices the process sees (0 without the backend, a GPU or a driver).
bool cuda_built();
int cuda_device_count();

// The always-available reference backend (the oracle).
Backend& reference_backend();

// Backend names built into this binary, e.g. {"reference", "onednn"}.
std::vector<std::string> available_backends();

// Selects the CPU backend by name; throws loom::Error naming the available
// ones when `name` is unknown.
void set_cpu_backend(const std::string& name);
std::string cpu_backend_name();

// Threads used by CPU kernels (Loom's own and the vendor library's). Default:
// LOOM_NUM_THREADS if set, else the number of cores.
void set_num_threads(int n);
int num_threads();
// Applies the current thread count and denormal mode to the calling thread
// (both are per thread in OpenMP and the CPU). backend_for() does it, so
// every op does; code with its own OpenMP loop calls it first.
void apply_thread_settings();

// Denormal (subnormal) floats are flushed to zero in the calling thread and
// in the CPU kernels' threads, as TensorFlow does in its thread pools. Without
// it a gradient that decays over a long sequence (LSTM backward, T = 200)
// reaches the subnormal range and every multiply with it takes ~100 cycles:
// a 4-5x slower step with no change in the result beyond 1e-38. Default on;
// LOOM_FLUSH_DENORMALS=0 or set_flush_denormals(false) turns it off. x86 only
// (elsewhere a no-op that reports false).
void set_flush_denormals(bool on);
bool flush_denormals();

}  // namespace loom
