// The reference backend's fused RNN step kernels: dispatch by cell kind and
// dtype to the per-cell files (rnn_simple_gates.cpp, rnn_lstm_gates.cpp,
// rnn_gru_gates.cpp), after checking what every kernel relies on.
#include "loom/backends/reference/kernels.h"
#include "loom/backends/reference/rnn_gates.h"

#include <algorithm>

namespace loom::ref {
inline namespace LOOM_ISA_NS {
namespace {

void check_step(const RnnDesc& d, const char* kernel) {
  LOOM_CHECK(d.dtype == DType::f32 || d.dtype == DType::f64,
             "reference backend {} ({}): expected f32 or f64, got {}", kernel,
             rnn_cell_kind_name(d.cell), dtype_name(d.dtype));
  LOOM_CHECK(d.B >= 0 && d.H > 0, "reference backend {} ({}): bad sizes B={} H={}", kernel,
             rnn_cell_kind_name(d.cell), d.B, d.H);
}

// sum (GH) += column sums of rows (B,GH). Split over columns so threads
// never write the same element; only worth threads beyond ~128k additions.
template <typename T>
void add_column_sums(const RnnRows& rows, int64_t B, int64_t GH, void* sum) {
  T* s = static_cast<T*>(sum);
  ref::parallel_for(GH, std::max<int64_t>(64, 131072 / std::max<int64_t>(B, 1)),
                    [&](int64_t j0, int64_t j1) {
                      for (int64_t b = 0; b < B; ++b) {
                        const T* r = rows.row<T>(b);
                        for (int64_t j = j0; j < j1; ++j) s[j] += r[j];
                      }
                    });
}

}  // namespace

void rnn_gates_forward(const RnnDesc& d, const RnnStepForward& s) {
  check_step(d, "rnn_gates_forward");
  dispatch_floating(d.dtype, "rnn_gates_forward", [&](auto tag) {
    using T = decltype(tag);
    switch (d.cell) {
      case RnnCellKind::simple_rnn: simple_rnn_step_forward<T>(d, s); break;
      case RnnCellKind::lstm: lstm_step_forward<T>(d, s); break;
      case RnnCellKind::gru: gru_step_forward<T>(d, s); break;
    }
  });
}

void rnn_gates_backward(const RnnDesc& d, const RnnStepBackward& s) {
  check_step(d, "rnn_gates_backward");
  dispatch_floating(d.dtype, "rnn_gates_backward", [&](auto tag) {
    using T = decltype(tag);
    switch (d.cell) {
      case RnnCellKind::simple_rnn: simple_rnn_step_backward<T>(d, s); break;
      case RnnCellKind::lstm: lstm_step_backward<T>(d, s); break;
      case RnnCellKind::gru: gru_step_backward<T>(d, s); break;
    }
    const bool completes_dA = (d.cell == RnnCellKind::gru && !d.reset_after) == (s.phase == 1);
    if (!completes_dA) return;
    const int64_t GH = d.gates() * d.H;
    if (s.db) add_column_sums<T>(s.dA, d.B, GH, s.db);
    if (s.db_rec) add_column_sums<T>(s.dA_rec, d.B, GH, s.db_rec);
  });
}

}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
