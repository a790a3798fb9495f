// to_device: a copy of a tensor on another device (host <-> GPU).
//
//   y = x on `device`;  dx = dy copied back to x's device.
//
// The bytes move contiguously: a strided x is first made contiguous on its
// own device, so the transfer is one block.
#include "loom/autograd/ops.h"
#include "loom/autograd/tape.h"
#include "loom/backends/registry.h"

namespace loom {

namespace {
Tensor copy_across(const Tensor& x, Device device) {
  const Tensor src = x.is_contiguous() ? x.detach() : contiguous(x.detach());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), device);
  const size_t nbytes = static_cast<size_t>(x.numel()) * dtype_size(x.dtype());
  if (nbytes == 0) return out;
  const Device from = x.device();
  if (from.kind == DeviceKind::cpu) {
    backend_for(device).copy_from_host(src.raw_data(), out.raw_data(), nbytes);
  } else if (device.kind == DeviceKind::cpu) {
    backend_for(from).copy_to_host(src.raw_data(), out.raw_data(), nbytes);
  } else {
    // Between two GPUs: through the host (rare; keeps the backend interface small).
    Tensor host = copy_across(src, Device::cpu());
    backend_for(device).copy_from_host(host.raw_data(), out.raw_data(), nbytes);
  }
  return out;
}
}  // namespace

Tensor to_device(const Tensor& x, Device device) {
  LOOM_CHECK(x.defined(), "to_device: the tensor is undefined");
  if (x.device() == device) return x;
  Tensor out = copy_across(x, device);
  if (!any_requires_grad({x})) return out;
  const Device from = x.device();
  return record("to_device", {x}, out, [from](const Tensor& d) {
    return std::vector<Tensor>{to_device(d, from)};
  });
}

}  // namespace loom
