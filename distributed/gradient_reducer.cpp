// distributed/gradient_reducer.h: bucketed all-reduce overlapped with backward.
#include "loom/distributed/gradient_reducer.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "loom/backends/registry.h"

namespace loom::distributed {
namespace {

// The elements [offset, offset + numel(shape)) of a 1-D buffer, shaped.
Tensor region(const Tensor& buffer, const Shape& shape, int64_t offset) {
  return make_view(buffer, shape, contiguous_strides(shape), buffer.impl()->offset + offset);
}

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

}  // namespace

GradientReducer::GradientReducer(std::vector<ParameterPtr> params, ReducerOptions options)
    : options_(options) {
  // Reverse order: the last layers' gradients are final first.
  std::reverse(params.begin(), params.end());
  int64_t bucket_elems = 0;
  for (const ParameterPtr& p : params) {
    if (!p->trainable || !p->value.defined()) continue;
    if (p->touched_rows) {
      sparse_.push_back(p);
      continue;
    }
    const Tensor& v = p->value;
    const int64_t n = v.numel();
    const bool fits = !buckets_.empty() &&
                      (bucket_elems + n) * static_cast<int64_t>(dtype_size(v.dtype())) <=
                          options_.bucket_bytes;
    const bool same_kind = !buckets_.empty() && buckets_.back().buffer.dtype() == v.dtype() &&
                           buckets_.back().buffer.device() == v.device();
    if (!fits || !same_kind) {
      if (!buckets_.empty())
        buckets_.back().buffer = Tensor::zeros({bucket_elems}, buckets_.back().buffer.dtype(),
                                               buckets_.back().buffer.device());
      buckets_.emplace_back();
      buckets_.back().buffer = Tensor::empty({0}, v.dtype(), v.device());  // dtype/device tag
      bucket_elems = 0;
    }
    slot_of_[v.impl()] = slots_.size();
    slots_.push_back({p, static_cast<int>(buckets_.size() - 1), bucket_elems, false});
    buckets_.back().slots.push_back(slots_.size() - 1);
    bucket_elems += n;
  }
  if (!buckets_.empty())
    buckets_.back().buffer = Tensor::zeros({bucket_elems}, buckets_.back().buffer.dtype(),
                                           buckets_.back().buffer.device());
}

std::unique_ptr<GradientReadyHook> GradientReducer::watch_backward() {
  reset();
  return std::make_unique<GradientReadyHook>(
      [this](const TensorImpl& leaf) { gradient_ready(leaf); });
}

void GradientReducer::reset() {
  for (Slot& s : slots_) s.ready = false;
  for (Bucket& b : buckets_) {
    b.ready_count = 0;
    b.started = false;
  }
  next_bucket_ = 0;
  stats_ = {};
}

void GradientReducer::gradient_ready(const TensorImpl& leaf) {
  auto it = slot_of_.find(&leaf);
  if (it == slot_of_.end()) return;
  Slot& s = slots_[it->second];
  if (s.ready) return;
  s.ready = true;
  ++buckets_[static_cast<size_t>(s.bucket)].ready_count;
  start_ready_buckets();
  // Let MPI move the buckets already started (it progresses only inside its calls).
  for (size_t i = 0; i < next_bucket_; ++i) test(buckets_[i].pending);
}

void GradientReducer::start_ready_buckets() {
  while (next_bucket_ < buckets_.size()) {
    Bucket& b = buckets_[next_bucket_];
    if (b.ready_count < static_cast<int>(b.slots.size())) break;
    start(b);
    ++next_bucket_;
  }
}

// Copies the bucket's gradients into its buffer (zeros for a parameter
// without one) and starts the sum over ranks.
void GradientReducer::start(Bucket& b) {
  for (size_t i : b.slots) {
    const Slot& s = slots_[i];
    Tensor dst = region(b.buffer, s.param->value.shape(), s.offset);
    Tensor g = s.param->grad();
    Backend& be = backend_for(b.buffer.device());
    if (g.defined())
      be.copy(g.view(), dst.view());
    else
      be.fill(dst.view(), 0.0);
  }
  b.pending = start_all_reduce(b.buffer.raw_data(), b.buffer.numel(), b.buffer.dtype(),
                               b.buffer.device());
  b.started = true;
  stats_.bytes += b.buffer.numel() * static_cast<int64_t>(dtype_size(b.buffer.dtype()));
  ++stats_.buckets;
}

void GradientReducer::finish() {
  for (; next_bucket_ < buckets_.size(); ++next_bucket_) start(buckets_[next_bucket_]);
  const auto t0 = std::chrono::steady_clock::now();
  for (Bucket& b : buckets_) wait(b.pending);
  stats_.wait_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (Bucket& b : buckets_) {
    for (size_t i : b.slots) {
      Parameter& p = *slots_[i].param;
      Tensor sum = region(b.buffer, p.value.shape(), slots_[i].offset);
      Tensor g = p.grad();
      if (!g.defined()) {
        g = Tensor::empty(p.value.shape(), p.value.dtype(), p.value.device());
        p.value.set_grad(g);
      }
      backend_for(g.device()).copy(sum.view(), g.view());
    }
  }
  for (const ParameterPtr& p : sparse_) reduce_sparse(*p);
}

// The union of the ranks' touched rows, reduced alone or (past
// dense_fraction of the table) as the whole table.
void GradientReducer::reduce_sparse(Parameter& p) {
  const Shape& shape = p.value.shape();
  LOOM_CHECK(shape.size() >= 1 && shape[0] > 0,
             "distributed: sparse parameter '{}' of shape {} has no rows", p.name, shape_str(shape));
  const std::vector<int64_t> mine(p.touched_rows->begin(), p.touched_rows->end());
  std::set<int64_t> all;
  for (const auto& rows : all_gather(mine)) all.insert(rows.begin(), rows.end());
  Tensor g = p.grad();
  if (!g.defined()) {
    g = Tensor::zeros(shape, p.value.dtype(), p.value.device());
    p.value.set_grad(g);
  }
  *p.touched_rows = all;
  Backend& be = backend_for(g.device());
  const int64_t row = numel_of(shape) / shape[0];
  const int64_t elem = static_cast<int64_t>(dtype_size(g.dtype()));
  ++stats_.buckets;
  if (static_cast<double>(all.size()) > options_.dense_fraction * static_cast<double>(shape[0])) {
    Tensor flat = g.is_contiguous() ? g : g.contiguous();
    PendingReduce r = start_all_reduce(flat.raw_data(), flat.numel(), flat.dtype(), flat.device());
    wait(r);
    if (flat.impl() != g.impl()) be.copy(flat.view(), g.view());
    stats_.bytes += flat.numel() * elem;
    return;
  }
  // Rows of the union, packed, reduced, unpacked (rows this rank did not
  // touch hold zeros in its dense gradient).
  const std::vector<int64_t> ids(all.begin(), all.end());
  Tensor id_tensor = Tensor::from_vector(ids).to(g.device());
  Tensor table = g.reshape({shape[0], row});
  Tensor packed = Tensor::empty({static_cast<int64_t>(ids.size()), row}, g.dtype(), g.device());
  be.gather_rows(table.view(), id_tensor.view(), packed.view());
  PendingReduce r = start_all_reduce(packed.raw_data(), packed.numel(), packed.dtype(), packed.device());
  wait(r);
  stats_.bytes += packed.numel() * elem;
  // table[ids] = packed: zero those rows, then add.
  Tensor current = Tensor::empty(packed.shape(), g.dtype(), g.device());
  be.gather_rows(table.view(), id_tensor.view(), current.view());
  be.axpby(1.0, packed.view(), -1.0, current.view());  // current = packed - current
  be.scatter_add_rows(current.view(), id_tensor.view(), table.view());
}

}  // namespace loom::distributed
