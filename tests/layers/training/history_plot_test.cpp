// The SVG training-curve writer (layers/training/history_plot.h) that
// train_sentiment --plot uses.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "test_util.h"

// gmock is not linked: substring checks by hand, showing the whole text on failure.
#define EXPECT_CONTAINS(text, part)                                           \
  do {                                                                        \
    const std::string _text = (text);                                         \
    EXPECT_NE(_text.find(part), std::string::npos) << "in: " << _text;        \
  } while (0)

namespace loom {
namespace {


size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = s.find(needle); pos != std::string::npos; pos = s.find(needle, pos + 1)) ++n;
  return n;
}

History sample_history() {
  History h;
  h.history["loss"] = {0.69, 0.41, 0.22};
  h.history["val_loss"] = {0.65, 0.38, 0.30};
  h.history["accuracy"] = {0.55, 0.81, 0.93};
  h.history["val_accuracy"] = {0.60, 0.84, 0.90};
  h.epochs_run = 3;
  return h;
}

TEST(HistoryPlot, DrawsOnePanelPerMetricWithTrainAndValidationLines) {
  const std::string svg = history_svg(sample_history(), {.title = "bilstm <synthetic> & more"});
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_CONTAINS(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"840\" height=\"330\"");
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(count(svg, "<polyline"), 4u);  // 2 panels x (train, validation)
  EXPECT_EQ(count(svg, "<circle"), 12u);   // a dot per value
  EXPECT_EQ(count(svg, "stroke-dasharray"), 4u);  // validation lines and their legend entries
  EXPECT_CONTAINS(svg, ">loss</text>");
  EXPECT_CONTAINS(svg, ">accuracy</text>");
  EXPECT_CONTAINS(svg, "bilstm &lt;synthetic&gt; &amp; more");  // escaped
  EXPECT_CONTAINS(svg, "validation epoch 3: 0.9000");  // tooltips carry the values
  // Every <...> opened is closed: a cheap well-formedness check.
  EXPECT_EQ(count(svg, "<text"), count(svg, "</text>"));
  EXPECT_EQ(count(svg, "<circle"), count(svg, "</circle>"));
}

TEST(HistoryPlot, PointsFollowTheValues) {
  History h;
  h.history["loss"] = {1.0, 0.5};
  const std::string svg = history_svg(h, {.metrics = {"loss"}});
  // One panel (420 wide): the first point at the left edge of the plot and
  // higher up (smaller y) than the second.
  const auto pos = svg.find("points=\"");
  ASSERT_NE(pos, std::string::npos);
  std::istringstream in(svg.substr(pos + 8));
  double x1, y1, x2, y2;
  char comma;
  in >> x1 >> comma >> y1 >> x2 >> comma >> y2;
  EXPECT_DOUBLE_EQ(x1, 58.0);
  EXPECT_DOUBLE_EQ(x2, 420.0 - 14.0);
  EXPECT_LT(y1, y2);
}

// The legend sits in the right corner away from where the curves end.
TEST(HistoryPlot, LegendAvoidsTheCurveEnds) {
  auto legend_y = [](const std::vector<double>& values) {
    History h;
    h.history["accuracy"] = values;
    const std::string svg = history_svg(h, {.metrics = {"accuracy"}});
    const auto pos = svg.find("font-size=\"12\">train</text>");
    EXPECT_NE(pos, std::string::npos);
    const auto y = svg.rfind("y=\"", pos);
    return std::stod(svg.substr(y + 3));
  };
  const double mid = (34.0 + (300.0 - 44.0)) / 2;  // plot area of a 300-high panel
  EXPECT_GT(legend_y({0.5, 0.7, 0.9}), mid);  // rising: legend at the bottom
  EXPECT_LT(legend_y({0.9, 0.7, 0.5}), mid);  // falling: legend at the top
}

TEST(HistoryPlot, NonFiniteValuesBreakTheLine) {
  History h;
  h.history["loss"] = {0.7, NAN, 0.5, 0.4};
  const std::string svg = history_svg(h, {.metrics = {"loss"}});
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_EQ(count(svg, "<circle"), 3u);
  History all_nan;
  all_nan.history["loss"] = {NAN};
  EXPECT_CONTAINS(history_svg(all_nan, {.metrics = {"loss"}}), "no finite values");
}

TEST(HistoryPlot, ErrorsNameTheProblem) {
  History h;
  h.history["auc"] = {0.5};
  try {
    history_svg(h);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(std::string(e.what()), "none of the metrics [loss, accuracy]");
    EXPECT_CONTAINS(std::string(e.what()), "[auc]");
  }
  EXPECT_THROW(history_svg(sample_history(), {.panel_width = 10}), Error);
  const std::string bad = "/nonexistent_dir_loom/x.svg";
  try {
    write_history_svg(sample_history(), bad);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(std::string(e.what()), bad);
  }
}

TEST(HistoryPlot, WritesTheFile) {
  const auto path = std::filesystem::temp_directory_path() / fmt::format("loom_plot_{}.svg", ::getpid());
  write_history_svg(sample_history(), path.string());
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), history_svg(sample_history()));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace loom
