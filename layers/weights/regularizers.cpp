// L1/L2 weight penalties (see regularizers.h).
#include "loom/layers/weights/regularizers.h"

#include <cctype>
#include <cstdlib>

#include "loom/autograd/ops.h"

namespace loom {

Tensor Regularizer::penalty(const Tensor& w) const {
  Tensor total = Tensor::zeros({}, w.dtype(), w.device());
  if (l1 != 0.0) total = add(total, mul(sum(abs(w)), l1));
  if (l2 != 0.0) total = add(total, mul(sum(square(w)), l2));
  return total;
}

std::string Regularizer::str() const {
  if (!active()) return "none";
  return fmt::format("l1_l2(l1={}, l2={})", l1, l2);
}

namespace {
std::string strip(const std::string& s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}
double number(const std::string& t, const std::string& spec) {
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  LOOM_CHECK(!t.empty() && end == t.c_str() + t.size(),
             "Regularizer: '{}' is not a number in '{}'", t, spec);
  return v;
}
}  // namespace

Regularizer Regularizer::parse(const std::string& spec) {
  const std::string s = strip(spec);
  if (s.empty() || s == "none" || s == "None") return {};
  const size_t open = s.find('(');
  const std::string name = s.substr(0, open);
  LOOM_CHECK(name == "l1" || name == "l2" || name == "l1_l2",
             "Regularizer: unknown regularizer '{}' (expected l1, l2, l1_l2 or none)", name);
  Regularizer r = name == "l1" ? regularizers::l1() : name == "l2" ? regularizers::l2()
                                                                   : regularizers::l1_l2();
  if (open == std::string::npos) return r;
  LOOM_CHECK(s.back() == ')', "Regularizer: missing ')' in '{}'", spec);
  const std::string inner = s.substr(open + 1, s.size() - open - 2);
  size_t at = 0;
  int positional = 0;
  while (at < inner.size()) {
    size_t comma = inner.find(',', at);
    if (comma == std::string::npos) comma = inner.size();
    const std::string item = inner.substr(at, comma - at);
    at = comma + 1;
    const size_t eq = item.find('=');
    std::string key = eq == std::string::npos ? "" : item.substr(0, eq);
    const double v = number(eq == std::string::npos ? item : item.substr(eq + 1), spec);
    if (key.empty()) key = name == "l1_l2" ? (positional++ == 0 ? "l1" : "l2") : name;
    LOOM_CHECK(key == "l1" || key == "l2", "Regularizer: unknown argument '{}' in '{}'", key, spec);
    (key == "l1" ? r.l1 : r.l2) = v;
  }
  return r;
}

}  // namespace loom
