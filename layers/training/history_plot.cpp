// Training curves as SVG (layers/training/history_plot.h).
#include "loom/layers/training/history_plot.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

namespace loom {

namespace {

// XML text: the title and metric names come from the user.
std::string escape_xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// A step of 1, 2 or 5 times a power of ten giving about `target` intervals
// over `span`, so tick labels are round numbers.
double nice_step(double span, int target) {
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * mag;
}

// Enough decimals to tell ticks `step` apart.
std::string tick_label(double v, double step) {
  const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  if (std::abs(v) < step * 1e-6) v = 0;  // no "-0.00"
  return fmt::format("{:.{}f}", v, decimals);
}

struct Series {
  std::string name;
  const std::vector<double>* values;
  const char* color;
  bool dashed;
};

void draw_panel(std::string& svg, double x0, double y0, int w, int h, const std::string& metric,
                const std::vector<Series>& series, int epochs) {
  // Plot area inside the panel: room for tick labels left and below.
  const double left = x0 + 58, right = x0 + w - 14, top = y0 + 34, bottom = y0 + h - 44;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : series)
    for (double v : *s.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"15\" font-weight=\"bold\" "
                     "text-anchor=\"middle\">{}</text>\n",
                     (left + right) / 2, y0 + 20, escape_xml(metric));
  svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
                     "stroke=\"#444\"/>\n",
                     left, top, right - left, bottom - top);
  if (!std::isfinite(lo)) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#888\">no finite "
                       "values</text>\n",
                       (left + right) / 2, (top + bottom) / 2);
    return;
  }
  if (hi - lo < 1e-12) {  // a flat line: give it a band to sit in
    const double pad = std::max(std::abs(lo) * 0.05, 1e-3);
    lo -= pad, hi += pad;
  }
  const double step = nice_step(hi - lo, 5);
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step;
  auto px = [&](double epoch) {  // epochs 1..n across the width
    return epochs <= 1 ? (left + right) / 2 : left + (epoch - 1) / (epochs - 1) * (right - left);
  };
  auto py = [&](double v) { return bottom - (v - lo) / (hi - lo) * (bottom - top); };

  // Horizontal grid with value labels.
  for (double v = lo; v <= hi + step * 1e-6; v += step) {
    svg += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n",
                       left, py(v), right, py(v));
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n",
                       left - 6, py(v) + 4, tick_label(v, step));
  }
  // Epoch ticks: every epoch when few, else about ten.
  const int every = std::max(1, static_cast<int>(std::ceil(epochs / 10.0)));
  for (int e = 1; e <= epochs; e += every)
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n",
                       px(e), bottom + 16, e);
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"12\" text-anchor=\"middle\">epoch</text>\n",
                     (left + right) / 2, bottom + 34);

  // One polyline per unbroken run of finite values, a dot per value.
  for (const auto& s : series) {
    std::string points;
    auto flush = [&] {
      if (points.empty()) return;
      svg += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n",
                         s.color, s.dashed ? " stroke-dasharray=\"6 4\"" : "", points);
      points.clear();
    };
    for (size_t i = 0; i < s.values->size(); ++i) {
      const double v = (*s.values)[i];
      if (!std::isfinite(v)) {
        flush();
        continue;
      }
      const double x = px(static_cast<double>(i + 1)), y = py(v);
      points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", x, y);
      svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{} epoch {}: "
                         "{:.4f}</title></circle>\n",
                         x, y, s.color, escape_xml(s.name), i + 1, v);
    }
    flush();
  }
  // Legend in the right corner the curves end farther from (top for a
  // falling loss, bottom for a rising accuracy), so it rarely hides them.
  double end_sum = 0;
  int end_count = 0;
  for (const auto& s : series)
    for (size_t i = s.values->size(); i-- > 0;)
      if (std::isfinite((*s.values)[i])) {
        end_sum += py((*s.values)[i]);
        ++end_count;
        break;
      }
  const bool ends_high = end_count > 0 && end_sum / end_count < (top + bottom) / 2;
  double ly = ends_high ? bottom - 10 - 16.0 * static_cast<double>(series.size() - 1) : top + 16;
  for (const auto& s : series) {
    svg += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
                       "stroke-width=\"2\"{}/>\n",
                       right - 118, ly - 4, right - 94, ly - 4, s.color,
                       s.dashed ? " stroke-dasharray=\"6 4\"" : "");
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"12\">{}</text>\n", right - 88, ly,
                       escape_xml(s.name));
    ly += 16;
  }
}

}  // namespace

std::string history_svg(const History& history, const HistoryPlotOptions& options) {
  LOOM_CHECK(options.panel_width >= 200 && options.panel_height >= 150,
             "history_svg: panels must be at least 200 x 150 pixels, got {} x {}", options.panel_width,
             options.panel_height);
  struct Panel {
    std::string metric;
    std::vector<Series> series;
  };
  std::vector<Panel> panels;
  int epochs = 0;
  for (const auto& metric : options.metrics) {
    Panel p{metric, {}};
    if (auto it = history.history.find(metric); it != history.history.end())
      p.series.push_back({"train", &it->second, "#1f77b4", false});
    if (auto it = history.history.find("val_" + metric); it != history.history.end())
      p.series.push_back({"validation", &it->second, "#ff7f0e", true});
    if (p.series.empty()) continue;
    for (const auto& s : p.series) epochs = std::max(epochs, static_cast<int>(s.values->size()));
    panels.push_back(std::move(p));
  }
  std::vector<std::string> present;
  for (const auto& [k, v] : history.history) present.push_back(k);
  LOOM_CHECK(!panels.empty(), "history_svg: none of the metrics [{}] is in the history (it has [{}])",
             fmt::join(options.metrics, ", "), fmt::join(present, ", "));

  const int title_h = options.title.empty() ? 0 : 30;
  const int width = options.panel_width * static_cast<int>(panels.size());
  const int height = options.panel_height + title_h;
  std::string svg = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
  if (!options.title.empty())
    svg += fmt::format("<text x=\"{}\" y=\"21\" font-size=\"16\" text-anchor=\"middle\">{}</text>\n",
                       width / 2, escape_xml(options.title));
  for (size_t i = 0; i < panels.size(); ++i)
    draw_panel(svg, static_cast<double>(i) * options.panel_width, title_h, options.panel_width,
               options.panel_height, panels[i].metric, panels[i].series, epochs);
  svg += "</svg>\n";
  return svg;
}

void write_history_svg(const History& history, const std::string& path,
                       const HistoryPlotOptions& options) {
  const std::string svg = history_svg(history, options);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  LOOM_CHECK(out.good(), "write_history_svg: cannot open '{}' for writing", path);
  out << svg;
  out.close();
  LOOM_CHECK(!out.fail(), "write_history_svg: writing '{}' failed", path);
}

}  // namespace loom
