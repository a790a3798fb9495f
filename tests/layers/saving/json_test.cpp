// Json: parsing, writing, typed access and numeric arrays.
#include <cmath>
#include <limits>

#include "loom/layers/saving/json.h"
#include "test_util.h"

namespace loom {
namespace {

TEST(Json, ParsesScalars) {
  EXPECT_TRUE(Json::parse("null").is_null());
  EXPECT_TRUE(Json::parse(" true ").as_bool());
  EXPECT_FALSE(Json::parse("false").as_bool());
  EXPECT_EQ(Json::parse("\"hi\"").as_string(), "hi");
  EXPECT_DOUBLE_EQ(Json::parse("-1.5e3").as_number(), -1500.0);
  EXPECT_DOUBLE_EQ(Json::parse("0.1").as_number(), 0.1);
  EXPECT_EQ(Json::parse("0").as_int(), 0);
  EXPECT_EQ(Json::parse("-0").as_int(), 0);
}

TEST(Json, IntegersStayExact) {
  // 2^53 + 1 is not representable as a double; int64 keeps it.
  Json j = Json::parse("9007199254740993");
  EXPECT_TRUE(j.is_integer());
  EXPECT_EQ(j.as_int(), 9007199254740993LL);
  EXPECT_EQ(j.dump(), "9007199254740993");
  EXPECT_EQ(Json::parse("-9223372036854775808").as_int(), std::numeric_limits<int64_t>::min());
  // Past int64: a double.
  Json big = Json::parse("9223372036854775808");
  EXPECT_FALSE(big.is_integer());
  EXPECT_DOUBLE_EQ(big.as_number(), 9223372036854775808.0);
  EXPECT_LOOM_ERROR(big.as_int(), "expected an integer");
  // A decimal point or exponent makes a double, but an integral double converts.
  EXPECT_FALSE(Json::parse("3.0").is_integer());
  EXPECT_EQ(Json::parse("3.0").as_int(), 3);
  EXPECT_EQ(Json::parse("1e2").as_int(), 100);
  EXPECT_LOOM_ERROR(Json::parse("2.5").as_int(), "expected an integer, got number 2.5");
}

TEST(Json, StringEscapesAndUnicode) {
  Json j = Json::parse(R"("a\"b\\c\/d\b\f\n\r\t")");
  EXPECT_EQ(j.as_string(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(Json::parse(R"("\u00e9")").as_string(), "\xc3\xa9");          // é, 2 bytes
  EXPECT_EQ(Json::parse(R"("\u20AC")").as_string(), "\xe2\x82\xac");      // €, 3 bytes
  EXPECT_EQ(Json::parse(R"("\ud83d\ude00")").as_string(), "\xf0\x9f\x98\x80");  // U+1F600
  EXPECT_EQ(Json::parse("\"caf\xc3\xa9\"").as_string(), "caf\xc3\xa9");     // raw UTF-8 passes
  EXPECT_LOOM_ERROR(Json::parse(R"("\ud83d")"), "unpaired high surrogate");
  EXPECT_LOOM_ERROR(Json::parse(R"("\ud83d\u0041")"), "not followed by a low surrogate");
  EXPECT_LOOM_ERROR(Json::parse(R"("\ude00")"), "unpaired low surrogate");
  EXPECT_LOOM_ERROR(Json::parse(R"("\u12G4")"), "bad hex digit 'G'");
  EXPECT_LOOM_ERROR(Json::parse(R"("\q")"), "bad escape '\\q'");
  EXPECT_LOOM_ERROR(Json::parse("\"a\nb\""), "control character");
  // Writing escapes what JSON requires and round-trips.
  std::string raw = std::string("q\"\\\n\t\x01") + "\xf0\x9f\x98\x80";
  Json s(raw);
  EXPECT_EQ(s.dump(), "\"q\\\"\\\\\\n\\t\\u0001\xf0\x9f\x98\x80\"");
  EXPECT_EQ(Json::parse(s.dump()).as_string(), raw);
}

TEST(Json, ObjectsKeepInsertionOrder) {
  Json j = Json::parse(R"({"zeta": 1, "alpha": [true, null], "mid": {"x": "y"}})");
  ASSERT_TRUE(j.is_object());
  ASSERT_EQ(j.size(), 3u);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"zeta", "alpha", "mid"}));
  EXPECT_EQ(j.dump(), R"({"zeta":1,"alpha":[true,null],"mid":{"x":"y"}})");
  EXPECT_TRUE(j.contains("mid"));
  EXPECT_FALSE(j.contains("nope"));
  EXPECT_EQ(j.at("mid").get_string("x"), "y");
  EXPECT_TRUE(j.at("alpha").at(1).is_null());
  // A repeated key keeps its first position and its last value.
  Json d = Json::parse(R"({"a": 1, "b": 2, "a": 3})");
  EXPECT_EQ(d.dump(), R"({"a":3,"b":2})");
}

TEST(Json, LargeObjectsLookUpByIndex) {
  Json j = Json::object();
  for (int i = 0; i < 5000; ++i) j.set("tok" + std::to_string(i), i);
  EXPECT_EQ(j.size(), 5000u);
  EXPECT_EQ(j.get_int("tok4321"), 4321);
  EXPECT_EQ(j.items()[17].first, "tok17");
  j.set("tok17", "replaced");
  EXPECT_EQ(j.size(), 5000u);
  EXPECT_EQ(j.get_string("tok17"), "replaced");
  Json back = Json::parse(j.dump());
  EXPECT_EQ(back, j);
  EXPECT_EQ(back.get_int("tok4999"), 4999);
}

TEST(Json, AccessorErrorsNameKeyAndType) {
  Json j = Json::parse(R"({"units": "4", "ok": 2})");
  EXPECT_LOOM_ERROR(j.at("unit"), "key 'unit' not found (keys: units, ok)");
  EXPECT_LOOM_ERROR(j.get_int("units"), "member 'units': Json: expected integer, got string \"4\"");
  EXPECT_LOOM_ERROR(j.at("ok").as_string(), "expected string, got number 2");
  EXPECT_LOOM_ERROR(j.at(0), "cannot index [0] into object");
  EXPECT_LOOM_ERROR(Json::parse("[1,2]").at(2), "index 2 out of range for an array of 2 elements");
  EXPECT_LOOM_ERROR(Json::parse("3").size(), "size() needs an array or object, got number 3");
  EXPECT_EQ(j.value("missing", int64_t{7}), 7);
  EXPECT_EQ(j.value("ok", int64_t{7}), 2);
  EXPECT_EQ(j.value("units", std::string("x")), "4");
  EXPECT_EQ(j.find("nope"), nullptr);
}

TEST(Json, ParseErrorsNameSourceLineAndColumn) {
  EXPECT_LOOM_ERROR(Json::parse("{\n  \"a\": 1,\n  \"b\" 2\n}", "cfg.json"),
                    "cfg.json:3:7: JSON parse error: expected ':' after key \"b\"");
  EXPECT_LOOM_ERROR(Json::parse("[1, 2", "x.json"), "x.json:1:6");
  EXPECT_LOOM_ERROR(Json::parse("[1, 2", "x.json"), "missing ']'");
  EXPECT_LOOM_ERROR(Json::parse("{\"a\":1} x"), "<json>:1:9: JSON parse error: unexpected 'x' after the document");
  EXPECT_LOOM_ERROR(Json::parse("01"), "leading zeros");
  EXPECT_LOOM_ERROR(Json::parse("1."), "expected a digit after '.'");
  EXPECT_LOOM_ERROR(Json::parse("1e"), "expected a digit in the exponent");
  EXPECT_LOOM_ERROR(Json::parse("-"), "expected a digit");
  EXPECT_LOOM_ERROR(Json::parse("[1,]"), "unexpected ']', expected a value");
  EXPECT_LOOM_ERROR(Json::parse("tru"), "unexpected 't'");
  EXPECT_LOOM_ERROR(Json::parse(""), "unexpected end of input");
  EXPECT_LOOM_ERROR(Json::parse("\"abc"), "unterminated string");
  EXPECT_LOOM_ERROR(Json::parse(std::string(1000, '[') + std::string(1000, ']')), "nesting deeper");
}

TEST(Json, NonFiniteNumbersAsPythonWritesThem) {
  Json j = Json::parse("[NaN, Infinity, -Infinity, 1e400, -1e400, 1e-400]");
  EXPECT_TRUE(std::isnan(j.at(0).as_number()));
  EXPECT_EQ(j.at(1).as_number(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(j.at(2).as_number(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(j.at(3).as_number(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(j.at(4).as_number(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(j.at(5).as_number(), 0.0);
  EXPECT_EQ(j.dump(), "[NaN,Infinity,-Infinity,Infinity,-Infinity,0.0]");
}

TEST(Json, DoublesRoundTripExactly) {
  std::vector<double> v = {0.1, 1.0 / 3.0, -2.5e-310, 1e300, 0.30000001192092896,
                           static_cast<double>(0.1f), -0.0, 123456789.125};
  Json j(v);
  Json back = Json::parse(j.dump());
  ASSERT_EQ(back.size(), v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(back.at(i).as_number(), v[i]) << i;
    EXPECT_FALSE(back.at(i).is_integer()) << "a double stays a double: " << j.dump();
  }
  EXPECT_TRUE(std::signbit(back.at(6).as_number()));
}

TEST(Json, BuildsAndPrettyPrints) {
  Json j;
  j["name"] = "dense";
  j["units"] = 4;
  j["shape"] = Json(std::vector<int64_t>{-1, 3});
  j["nested"]["flag"] = true;
  j["list"].push_back(Json::object({{"a", 1.5}}));
  EXPECT_EQ(j.dump(), R"({"name":"dense","units":4,"shape":[-1,3],"nested":{"flag":true},"list":[{"a":1.5}]})");
  EXPECT_EQ(j.dump(2),
            "{\n"
            "  \"name\": \"dense\",\n"
            "  \"units\": 4,\n"
            "  \"shape\": [-1, 3],\n"
            "  \"nested\": {\n"
            "    \"flag\": true\n"
            "  },\n"
            "  \"list\": [\n"
            "    {\n"
            "      \"a\": 1.5\n"
            "    }\n"
            "  ]\n"
            "}");
  EXPECT_EQ(Json::parse(j.dump(2)), j);
  EXPECT_EQ(Json::parse(j.dump(4)), j);
  // Copies are deep.
  Json c = j;
  c["nested"]["flag"] = false;
  EXPECT_TRUE(j.at("nested").get_bool("flag"));
  // Assigning a member of itself.
  c = c.at("list");
  EXPECT_TRUE(c.is_array());
  EXPECT_DOUBLE_EQ(c.at(0).get_number("a"), 1.5);
}

TEST(Json, NumericArrays) {
  NumericArray a = Json::parse("[[[1, 2], [3, 4.5]], [[5, 6], [7, -8e-1]]]").to_numeric_array();
  EXPECT_EQ(a.shape, (Shape{2, 2, 2}));
  EXPECT_EQ(a.values, (std::vector<double>{1, 2, 3, 4.5, 5, 6, 7, -0.8}));
  NumericArray s = Json::parse("2.5").to_numeric_array();
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.values, std::vector<double>{2.5});
  NumericArray e = Json::parse("[[], []]").to_numeric_array();
  EXPECT_EQ(e.shape, (Shape{2, 0}));
  EXPECT_TRUE(e.values.empty());
  EXPECT_LOOM_ERROR(Json::parse("[[1, 2], [3]]").to_numeric_array(),
                    "ragged numeric array: element [1] is an array of 1 elements, expected an array of 2");
  EXPECT_LOOM_ERROR(Json::parse("[[1, 2], [3, \"x\"]]").to_numeric_array(),
                    "element [1][1] is string \"x\"");
  EXPECT_LOOM_ERROR(Json::parse("[[1, 2], 3]").to_numeric_array(), "element [1] is number");
  EXPECT_EQ(Json::parse("[3, -1, 7]").to_int_vector(), (std::vector<int64_t>{3, -1, 7}));
  EXPECT_LOOM_ERROR(Json::parse("[3, 1.5]").to_int_vector(), "element [1]");
  EXPECT_EQ(Json::parse(R"(["a", "b"])").to_string_vector(), (std::vector<std::string>{"a", "b"}));
}

TEST(Json, ParsesMegabytesOfNumbersExactly) {
  // 200k float32-like values (~2.8 MB of text), as in big parity files; each
  // reads back to the same float. (Its speed is measured by loom_text_bench.)
  const int rows = 200, cols = 1000;
  std::string text = "{\"w\": [";
  text.reserve(static_cast<size_t>(rows) * cols * 14 + 16);
  uint64_t s = 12345;
  std::vector<double> expected;
  expected.reserve(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    text += r ? ",[" : "[";
    for (int c = 0; c < cols; ++c) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      float v = static_cast<float>(static_cast<int64_t>(s >> 11) % 2000001 - 1000000) * 1.0e-6f;
      expected.push_back(static_cast<double>(v));
      if (c) text += ',';
      text += fmt::format("{:.9g}", v);
    }
    text += ']';
  }
  text += "]}";
  NumericArray a = Json::parse(text, "big.json").at("w").to_numeric_array();
  ASSERT_EQ(a.shape, (Shape{rows, cols}));
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_EQ(static_cast<float>(a.values[i]), static_cast<float>(expected[i])) << i;
}

}  // namespace
}  // namespace loom
