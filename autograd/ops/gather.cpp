// Embedding lookup: gather_rows(table, ids).
//
// Shapes: table (V, E), ids (S) i32/i64 -> out (S..., E). The backend works
// on flat ids (N = numel(S)) and (N, E) rows.
//   dtable[v] = sum of dout rows whose id is v  (scatter-add: repeated ids accumulate)
#include "loom/autograd/ops.h"
#include "loom/backends/registry.h"

namespace loom {
namespace {

// "(1, 2)": the multi-index of flat position `flat` in `shape`, for messages.
std::string position_str(const Shape& shape, int64_t flat) {
  Shape idx(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return fmt::format("({})", fmt::join(idx, ", "));
}

// Throws for the first id outside [0, V), naming it, its position and V.
template <typename I>
void check_ids(const Tensor& flat_ids_any, const Shape& ids_shape, int64_t V) {
  // On the host: ids on a GPU are copied over for the check (one transfer).
  const Tensor flat_ids =
      flat_ids_any.device().kind == DeviceKind::cpu ? flat_ids_any : flat_ids_any.cpu();
  const I* p = flat_ids.data<I>();
  for (int64_t n = 0; n < flat_ids.numel(); ++n) {
    const int64_t id = static_cast<int64_t>(p[n]);
    LOOM_CHECK(id >= 0 && id < V,
               "gather_rows: id {} at position {} of ids {} is out of range for a table of {} "
               "rows (valid ids are 0 to {})",
               id, position_str(ids_shape, n), shape_str(ids_shape), V, V - 1);
  }
}

}  // namespace

// out[s] = table[ids[s]];  dtable[v] = sum of dout[s] over the positions s with ids[s] == v
Tensor gather_rows(const Tensor& table, const Tensor& ids) {
  LOOM_CHECK(table.ndim() == 2, "gather_rows: table must be (V, E), got shape {}",
             shape_str(table.shape()));
  LOOM_CHECK(ids.dtype() == DType::i32 || ids.dtype() == DType::i64,
             "gather_rows: ids must be i32 or i64, got {} of shape {}", dtype_name(ids.dtype()),
             shape_str(ids.shape()));
  LOOM_CHECK(ids.device() == table.device(), "gather_rows: table on {} but ids on {}",
             table.device().str(), ids.device().str());
  const int64_t V = table.dim(0), E = table.dim(1), N = ids.numel();
  // The backend reads ids (N) and table rows with unit column stride.
  Tensor flat = contiguous(ids.detach()).reshape({N});
  if (flat.dtype() == DType::i32) check_ids<int32_t>(flat, ids.shape(), V);
  else check_ids<int64_t>(flat, ids.shape(), V);
  Tensor src = contiguous(table.detach());

  Tensor rows = Tensor::empty({N, E}, table.dtype(), table.device());  // (N, E)
  if (N > 0 && E > 0) backend_for(table.device()).gather_rows(src.view(), flat.view(), rows.view());
  Shape out_shape = ids.shape();
  out_shape.push_back(E);
  Tensor out = rows.reshape(out_shape);  // (S..., E), a view of rows
  if (!any_requires_grad({table})) return out;
  Shape st = table.shape();
  return record("gather_rows", {table, ids}, out, [flat, st, N, E](const Tensor& d) {
    Tensor dtable = Tensor::zeros(st, d.dtype(), d.device());  // (V, E)
    Tensor drows = contiguous(d).reshape({N, E});              // (N, E)
    if (N > 0 && E > 0)
      backend_for(d.device()).scatter_add_rows(drows.view(), flat.view(), dtable.view());
    return std::vector<Tensor>{dtable, Tensor()};
  });
}

}  // namespace loom
