#include "loom/autograd/gradcheck.h"

#include <cmath>

#include "loom/autograd/ops.h"
#include "loom/autograd/tape.h"

namespace loom {
namespace {

// L = sum_k <outs[k], cots[k]> in double.
double contract(const std::vector<Tensor>& outs, const std::vector<Tensor>& cots) {
  double total = 0;
  for (size_t k = 0; k < outs.size(); ++k) {
    std::vector<double> o = outs[k].to_vector<double>(), c = cots[k].to_vector<double>();
    for (size_t i = 0; i < o.size(); ++i) total += o[i] * c[i];
  }
  return total;
}

std::string index_str(const Shape& shape, int64_t flat) {
  Shape idx(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  return fmt::format("({})", fmt::join(idx, ", "));
}

}  // namespace

GradcheckResult gradcheck(const MultiFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opt) {
  // Fresh leaves, so the caller's tensors are neither perturbed nor given .grad.
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    if (!t.defined()) {
      leaves.push_back(t);
      continue;
    }
    Tensor c = t.detach().clone();
    if (t.requires_grad()) {
      LOOM_CHECK(t.dtype() == DType::f64,
                 "gradcheck: inputs that require grad must be f64, got {} of shape {}",
                 dtype_name(t.dtype()), shape_str(t.shape()));
      c.set_requires_grad(true);
    }
    leaves.push_back(c);
  }

  std::vector<Tensor> outs = fn(leaves);
  Generator gen(opt.seed);
  std::vector<Tensor> cots;
  for (const Tensor& o : outs) {
    LOOM_CHECK(o.dtype() == DType::f64, "gradcheck: outputs must be f64, got {} of shape {}",
               dtype_name(o.dtype()), shape_str(o.shape()));
    cots.push_back(Tensor::uniform(o.shape(), -1.0, 1.0, gen, DType::f64));
  }
  std::vector<Tensor> wanted, analytic;
  for (const Tensor& l : leaves)
    if (l.defined() && l.requires_grad()) wanted.push_back(l);
  std::vector<Tensor> differentiable;
  for (const Tensor& o : outs)
    if (o.requires_grad()) differentiable.push_back(o);
  if (!differentiable.empty()) {
    std::vector<Tensor> dcots;
    for (size_t k = 0; k < outs.size(); ++k)
      if (outs[k].requires_grad()) dcots.push_back(cots[k]);
    analytic = grad(differentiable, dcots, wanted);
  } else {
    for (const Tensor& w : wanted) analytic.push_back(Tensor::zeros(w.shape(), DType::f64));
  }

  GradcheckResult result;
  double worst_excess = -INFINITY;
  NoGradGuard no_grad;
  size_t w = 0;
  for (size_t i = 0; i < leaves.size(); ++i) {
    Tensor& leaf = leaves[i];
    if (!leaf.defined() || !leaf.requires_grad()) continue;
    std::vector<double> a = analytic[w++].to_vector<double>();
    double* p = leaf.data<double>();
    for (int64_t e = 0; e < leaf.numel(); ++e) {
      const double saved = p[e];
      p[e] = saved + opt.eps;
      double lp = contract(fn(leaves), cots);
      p[e] = saved - opt.eps;
      double lm = contract(fn(leaves), cots);
      p[e] = saved;
      const double numeric = (lp - lm) / (2 * opt.eps);
      const double err = std::abs(a[e] - numeric);
      const double excess = err - (opt.atol + opt.rtol * std::abs(numeric));
      result.max_abs_error = std::max(result.max_abs_error, err);
      ++result.elements_checked;
      if (excess > worst_excess || std::isnan(err)) {
        worst_excess = std::isnan(err) ? INFINITY : excess;
        result.worst = fmt::format("input {} element {}: analytic {:.10g} vs numeric {:.10g}", i,
                                   index_str(leaf.shape(), e), a[e], numeric);
      }
      if (excess > 0 || std::isnan(err)) result.ok = false;
    }
  }
  return result;
}

GradcheckResult gradcheck(const SingleFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  return gradcheck(MultiFn([&](const std::vector<Tensor>& xs) { return std::vector<Tensor>{fn(xs)}; }),
                   inputs, options);
}

}  // namespace loom
