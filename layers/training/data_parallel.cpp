// layers/training/data_parallel.h: fit() across the ranks of an mpirun job.
#include "loom/layers/training/data_parallel.h"

#include "loom/autograd/tape.h"
#include "loom/distributed/distributed.h"

namespace loom {
namespace {

bool wanted(DataParallelMode mode) {
  switch (mode) {
    case DataParallelMode::off: return false;
    case DataParallelMode::on: return true;
    case DataParallelMode::automatic: return distributed::launched_world_size() > 1;
  }
  return false;
}

// One line per parameter: what must match on every rank.
std::string describe_parameters(const Model& model) {
  std::string s;
  for (const ParameterPtr& p : model.parameters())
    s += fmt::format("{} {} {}{}\n", p->name, shape_str(p->value.shape()), dtype_name(p->value.dtype()),
                     p->trainable ? "" : " (frozen)");
  return s;
}

// The first line where two descriptions differ, for the error message.
std::string first_difference(const std::string& a, const std::string& b) {
  size_t pa = 0, pb = 0;
  while (pa < a.size() || pb < b.size()) {
    const size_t ea = a.find('\n', pa), eb = b.find('\n', pb);
    const std::string la = pa < a.size() ? a.substr(pa, ea - pa) : "(nothing)";
    const std::string lb = pb < b.size() ? b.substr(pb, eb - pb) : "(nothing)";
    if (la != lb) return fmt::format("'{}' against rank 0's '{}'", lb, la);
    pa = ea == std::string::npos ? a.size() : ea + 1;
    pb = eb == std::string::npos ? b.size() : eb + 1;
  }
  return "";
}

// Every rank must train the same model on the same data with the same
// settings, or the replicas drift apart (or the collectives stop matching).
void check_same_everywhere(const Model& model, int64_t n_train, int64_t batch_size, uint64_t seed) {
  const std::string params = describe_parameters(model);
  const std::vector<std::string> all_params = distributed::all_gather(params);
  const std::vector<std::vector<int64_t>> settings = distributed::all_gather(
      std::vector<int64_t>{n_train, batch_size, static_cast<int64_t>(seed)});
  for (size_t r = 1; r < all_params.size(); ++r) {
    LOOM_CHECK(all_params[r] == all_params[0],
               "fit (data-parallel): rank {}'s model '{}' differs from rank 0's: {}. Every rank must "
               "build the same architecture",
               r, model.name(), first_difference(all_params[0], all_params[r]));
    LOOM_CHECK(settings[r] == settings[0],
               "fit (data-parallel): rank {} trains on {} samples with batch_size {} and seed {}, "
               "rank 0 on {} with batch_size {} and seed {}: every rank must give fit() the same "
               "data and options",
               r, settings[r][0], settings[r][1], settings[r][2], settings[0][0], settings[0][1],
               settings[0][2]);
  }
}

// A Sequential without an input shape has no weights before its first
// batch: build it from one sample so there is something to broadcast.
void build_from_first_sample(Model& model, const std::vector<Tensor>& train_x) {
  if (!model.parameters().empty() || train_x.empty() || train_x[0].dim(0) == 0) return;
  NoGradGuard no_grad;
  std::vector<Tensor> one;
  for (const Tensor& t : train_x) one.push_back(t.detach().slice(0, 0, 1).contiguous());
  CallContext ctx;
  ctx.record_losses = false;
  model(one, {}, ctx);
  model.reset_states();
}

}  // namespace

DataParallel DataParallel::start(Model& model, DataParallelMode mode,
                                 const distributed::ReducerOptions& reducer,
                                 const std::vector<Tensor>& train_x, int64_t n_train,
                                 int64_t batch_size, uint64_t seed) {
  DataParallel dp;
  if (!wanted(mode)) return dp;
  distributed::init();
  dp.on_ = true;
  dp.rank_ = distributed::rank();
  dp.size_ = distributed::world_size();
  build_from_first_sample(model, train_x);
  check_same_everywhere(model, n_train, batch_size, seed);
  std::vector<Tensor> weights;
  for (const ParameterPtr& p : model.parameters()) weights.push_back(p->value.detach());
  distributed::broadcast(weights, 0);
  dp.reducer_ = std::make_shared<distributed::GradientReducer>(model.parameters(), reducer);
  return dp;
}

BatchShare DataParallel::share(int64_t count) const {
  if (!on_) return {0, count};
  const int64_t begin = count * rank_ / size_;
  const int64_t end = count * (rank_ + 1) / size_;
  return {begin, end - begin};
}

std::unique_ptr<GradientReadyHook> DataParallel::watch_backward() {
  return reducer_ ? reducer_->watch_backward() : nullptr;
}

void DataParallel::finish_gradients() {
  if (reducer_) reducer_->finish();
}

double DataParallel::sum(double value) const {
  if (!on_ || size_ == 1) return value;
  std::vector<Tensor> t{Tensor::from_vector(std::vector<double>{value})};
  distributed::all_reduce(t);
  return t[0].item();
}

void DataParallel::sum_states(const std::vector<Metric*>& metrics) const {
  if (!on_ || size_ == 1) return;
  std::vector<double> flat;
  std::vector<size_t> sizes;
  for (const Metric* m : metrics) {
    const std::vector<double> s = m->state();
    sizes.push_back(s.size());
    flat.insert(flat.end(), s.begin(), s.end());
  }
  if (flat.empty()) return;
  std::vector<Tensor> t{Tensor::from_vector(flat)};
  distributed::all_reduce(t);
  flat = t[0].to_vector<double>();
  size_t at = 0;
  for (size_t i = 0; i < metrics.size(); ++i) {
    metrics[i]->set_state(std::vector<double>(flat.begin() + static_cast<std::ptrdiff_t>(at),
                                              flat.begin() + static_cast<std::ptrdiff_t>(at + sizes[i])));
    at += sizes[i];
  }
}

}  // namespace loom
