// distributed/gradient_reducer.h: bucketed all-reduce overlapped with backward.
#include "loom/distributed/gradient_reducer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "loom/backends/registry.h"

namespace loom::distributed {
namespace {

// The elements [offset, offset + numel(shape)) of a 1-D buffer, shaped.
Tensor region(const Tensor& buffer, const Shape& shape, int64_t offset) {
  return make_view(buffer, shape, contiguous_strides(shape), buffer.impl()->offset + offset);
}

ReducerTotals& totals() {
  static ReducerTotals t;
  return t;
}

}  // namespace

ReducerTotals reducer_totals() { return totals(); }

GradientReducer::GradientReducer(std::vector<ParameterPtr> params, ReducerOptions options)
    : options_(options) {
  // Reverse order: the last layers' gradients are final first.
  std::reverse(params.begin(), params.end());
  // Slots first (offsets within their bucket), buffers once every bucket's size is known.
  std::vector<int64_t> sizes;  // elements per bucket
  const Tensor* last = nullptr;  // a parameter of the current bucket: its dtype and device
  for (const ParameterPtr& p : params) {
    if (!p->trainable || !p->value.defined()) continue;
    if (p->touched_rows || (p->row_sparse_gradient && p->value.device().kind == DeviceKind::cpu &&
                            p->value.ndim() >= 2)) {
      row_sparse_.push_back(p);
      continue;
    }
    const Tensor& v = p->value;
    const bool joins = last && last->dtype() == v.dtype() && last->device() == v.device() &&
                       (sizes.back() + v.numel()) * static_cast<int64_t>(dtype_size(v.dtype())) <=
                           options_.bucket_bytes;
    if (!joins) {
      sizes.push_back(0);
      buckets_.emplace_back();
    }
    last = &v;
    slot_of_[v.impl()] = slots_.size();
    slots_.push_back({p, static_cast<int>(buckets_.size() - 1), sizes.back(), false});
    buckets_.back().slots.push_back(slots_.size() - 1);
    sizes.back() += v.numel();
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    const Tensor& v = slots_[buckets_[b].slots.front()].param->value;
    buckets_[b].buffer = Tensor::zeros({sizes[b]}, v.dtype(), v.device());
  }
}

std::unique_ptr<GradientReadyHook> GradientReducer::watch_backward() {
  reset();
  if (!options_.overlap) return nullptr;
  return std::make_unique<GradientReadyHook>(
      [this](const TensorImpl& leaf) { gradient_ready(leaf); });
}

void GradientReducer::reset() {
  for (Slot& s : slots_) s.ready = false;
  for (Bucket& b : buckets_) b.ready_count = 0;
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
  stats_.bytes += b.buffer.numel() * static_cast<int64_t>(dtype_size(b.buffer.dtype()));
  ++stats_.buckets;
}

void GradientReducer::finish() {
  const auto began = std::chrono::steady_clock::now();
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
  for (const ParameterPtr& p : row_sparse_) reduce_rows(*p);
  ReducerTotals& t = totals();
  ++t.steps;
  t.bytes += stats_.bytes;
  t.wait_seconds += stats_.wait_seconds;
  t.finish_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
}

// The rows of a host gradient that are not all zero bits (a -0.0 counts as
// used: reducing a row too many changes nothing).
std::vector<int64_t> nonzero_rows(const Tensor& g) {
  const Tensor c = g.contiguous();
  const int64_t rows = c.dim(0);
  const size_t row_bytes = static_cast<size_t>(c.numel() / std::max<int64_t>(rows, 1)) * dtype_size(c.dtype());
  const std::vector<char> zero(row_bytes, 0);
  const char* p = static_cast<const char*>(c.raw_data());
  std::vector<int64_t> out;
  for (int64_t r = 0; r < rows; ++r)
    if (std::memcmp(p + static_cast<size_t>(r) * row_bytes, zero.data(), row_bytes) != 0) out.push_back(r);
  return out;
}

// Rows `ids` of a contiguous host table (rows of `row_bytes`) to or from
// consecutive rows of `packed`.
void copy_rows(char* table, char* packed, const std::vector<int64_t>& ids, size_t row_bytes,
               bool into_table) {
  for (size_t i = 0; i < ids.size(); ++i) {
    char* t = table + static_cast<size_t>(ids[i]) * row_bytes;
    char* q = packed + i * row_bytes;
    if (into_table) std::memcpy(t, q, row_bytes);
    else std::memcpy(q, t, row_bytes);
  }
}

// The union of the rows the ranks used, reduced alone or (past
// dense_fraction of the table) as the whole table. Host tensors only.
void GradientReducer::reduce_rows(Parameter& p) {
  const Shape& shape = p.value.shape();
  Tensor g = p.grad();
  if (g.defined() && !g.is_contiguous()) {
    g = g.contiguous();
    p.value.set_grad(g);
  }
  std::vector<int64_t> mine;
  if (p.touched_rows) mine.assign(p.touched_rows->begin(), p.touched_rows->end());
  else if (g.defined()) mine = nonzero_rows(g);
  std::vector<int64_t> ids;
  int64_t gathered = 0;  // row ids every rank received
  for (const auto& rows : all_gather(mine)) {
    ids.insert(ids.end(), rows.begin(), rows.end());
    gathered += static_cast<int64_t>(rows.size());
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (!g.defined()) {
    g = Tensor::zeros(shape, p.value.dtype(), p.value.device());
    p.value.set_grad(g);
  }
  if (p.touched_rows) *p.touched_rows = std::set<int64_t>(ids.begin(), ids.end());
  const int64_t elem = static_cast<int64_t>(dtype_size(g.dtype()));
  ++stats_.buckets;
  const auto t0 = std::chrono::steady_clock::now();
  if (static_cast<double>(ids.size()) > options_.dense_fraction * static_cast<double>(shape[0])) {
    PendingReduce r = start_all_reduce(g.raw_data(), g.numel(), g.dtype(), g.device());
    wait(r);
    stats_.bytes += g.numel() * elem;
  } else if (!ids.empty()) {
    // Pack the union's rows (zeros where this rank used none), reduce,
    // write them back.
    const int64_t row = g.numel() / shape[0];
    const size_t row_bytes = static_cast<size_t>(row * elem);
    Tensor packed = Tensor::empty({static_cast<int64_t>(ids.size()), row}, g.dtype(), g.device());
    char* table = static_cast<char*>(g.raw_data());
    char* rows = static_cast<char*>(packed.raw_data());
    copy_rows(table, rows, ids, row_bytes, false);
    PendingReduce r = start_all_reduce(packed.raw_data(), packed.numel(), packed.dtype(), packed.device());
    wait(r);
    copy_rows(table, rows, ids, row_bytes, true);
    stats_.bytes += packed.numel() * elem + gathered * static_cast<int64_t>(sizeof(int64_t));
  }
  stats_.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace loom::distributed
