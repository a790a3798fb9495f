#include "loom/layers/text/synthetic.h"

#include <string>
#include <vector>

#include "loom/backends/types.h"
#include "loom/layers/text/random.h"

namespace loom::text {

namespace {

using Words = std::vector<std::string>;

// ---- lexicon ------------------------------------------------------------------------
// The sentiment lists have equal sizes so no polarity is more varied than the
// other; noise words never overlap them or the negators.

const Words kPositiveAdjectives = {
    "good",     "great",     "excellent", "wonderful", "brilliant", "superb",   "enjoyable",
    "charming", "delightful", "gripping", "clever",    "beautiful", "fantastic", "memorable",
    "touching", "stunning",  "engaging",  "funny",     "fresh",     "powerful"};
const Words kNegativeAdjectives = {
    "bad",   "terrible",    "awful",   "boring",   "dull",     "weak",        "poor",
    "tedious", "bland",     "clumsy",  "forgettable", "painful", "mediocre", "lifeless",
    "predictable", "messy", "shallow", "endless",  "silly",    "annoying"};
const Words kPositiveVerbs = {"loved", "enjoyed", "liked", "admired", "adored"};
const Words kNegativeVerbs = {"hated", "disliked", "loathed", "despised", "resented"};
const Words kIntensifiers = {"very",       "really",     "truly", "extremely",
                             "incredibly", "remarkably", "quite", "genuinely"};
const Words kAspects = {"acting",   "plot",    "story", "script",  "dialogue", "cast",
                        "soundtrack", "direction", "ending", "pacing", "cinematography",
                        "humor",    "score",   "editing", "premise", "finale", "villain",
                        "lead",     "music"};
const Words kPluralAspects = {"characters", "performances", "visuals", "effects", "jokes",
                              "twists"};
const std::vector<Words> kOpeners = {{"honestly", ","},        {"overall", ","},
                                     {"in", "my", "opinion", ","}, {"to", "be", "fair", ","},
                                     {"all", "in", "all", ","},  {"frankly", ","},
                                     {"in", "the", "end", ","},  {"for", "me", ","}};

// noise
const Words kPeople = {"doctor", "detective", "teacher", "soldier", "farmer", "pilot",
                       "writer", "singer",    "lawyer",  "nurse",   "thief",  "sailor",
                       "painter", "scientist", "boxer",  "journalist"};
const Words kPeopleTraits = {"young", "old", "retired", "former", "local", "french", "german"};
const Words kPlotVerbs = {"moves", "travels", "returns", "drives", "flies", "walks", "sails"};
const std::vector<Words> kPlaces = {{"lisbon"},  {"paris"},          {"tokyo"},
                                    {"chicago"}, {"berlin"},         {"cairo"},
                                    {"a", "small", "town"}, {"the", "countryside"},
                                    {"the", "coast"}, {"the", "mountains"},
                                    {"a", "village"}, {"new", "york"}};
const Words kRelatives = {"brother", "sister", "friends", "parents", "wife",
                          "husband", "roommate", "cousin"};
const Words kDays = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                     "sunday"};
const Words kNames = {"anna",   "james", "maria",  "david", "sophie", "peter",
                      "elena",  "thomas", "laura", "marco", "carl",   "julia"};
const std::vector<Words> kSources = {{"novel"}, {"play"}, {"short", "story"}, {"true", "story"},
                                     {"comic"}};
const Words kPeriods = {"week", "month", "year", "summer", "winter"};

bool starts_with_vowel(const std::string& w) {
  return !w.empty() && std::string("aeiou").find(w[0]) != std::string::npos;
}

class ReviewWriter {
 public:
  ReviewWriter(TextRng& rng, const SyntheticReviewOptions& o) : rng_(rng), o_(o) {}

  Words review(int polarity) {
    const int64_t span = o_.max_length - o_.min_length;
    // Squared uniform: many short and mid-length reviews, a tail of long ones.
    const double u = rng_.uniform();
    const int64_t target = o_.min_length + static_cast<int64_t>(static_cast<double>(span) * u * u);
    int64_t opinions = 1 + target / 50 + (rng_.chance(0.5) ? 1 : 0);
    if (opinions > 4) opinions = 4;

    std::vector<Words> units;
    int64_t tokens = 0, words = 0;
    auto add = [&](Words unit) {
      tokens += static_cast<int64_t>(unit.size());
      words += count_words(unit);
      units.push_back(std::move(unit));
    };
    for (int64_t k = 0; k < opinions; ++k) {
      // The first opinion always goes in (regenerated until it fits); later
      // ones only while they fit.
      for (int attempt = 0; attempt < 100; ++attempt) {
        Words s = opinion(polarity);
        if (tokens + static_cast<int64_t>(s.size()) <= o_.max_length) {
          add(std::move(s));
          break;
        }
        if (k > 0) break;
      }
    }
    LOOM_CHECK(!units.empty(), "synthetic_reviews: max_length {} is too short for an opinion",
               o_.max_length);
    for (int misses = 0; (tokens < target || words < o_.min_length) && misses < 20;) {
      Words s = noise();
      if (tokens + static_cast<int64_t>(s.size()) <= o_.max_length)
        add(std::move(s));
      else
        ++misses;
    }
    rng_.shuffle(units);
    Words out;
    out.reserve(static_cast<size_t>(tokens) + 4);
    while (words < o_.min_length) {
      const Words& opener = kOpeners[rng_.below(kOpeners.size())];
      out.insert(out.end(), opener.begin(), opener.end());
      words += count_words(opener);
    }
    for (auto& u2 : units) out.insert(out.end(), u2.begin(), u2.end());
    return out;
  }

  static int64_t count_words(const Words& w) {
    int64_t n = 0;
    for (const auto& t : w) n += (t != "," && t != ".") ? 1 : 0;
    return n;
  }

 private:
  TextRng& rng_;
  const SyntheticReviewOptions& o_;

  void put(Words& out, const Words& more) { out.insert(out.end(), more.begin(), more.end()); }
  // Literals only; put_word for strings (a braced list of two literals would
  // otherwise also read as std::string's iterator-pair constructor).
  void put(Words& out, const char* w) { out.emplace_back(w); }
  void put_word(Words& out, const std::string& w) { out.push_back(w); }
  const std::string& pick(const Words& w) { return w[rng_.below(w.size())]; }

  const std::string& adjective(int polarity) {
    return pick(polarity > 0 ? kPositiveAdjectives : kNegativeAdjectives);
  }
  void maybe_intensifier(Words& out, double p = 0.3) {
    if (rng_.chance(p)) out.push_back(pick(kIntensifiers));
  }

  // A clause meaning `polarity`: its sentiment word has that polarity unless
  // the clause is negated, which flips it.
  Words clause(int polarity) {
    const bool negated = rng_.chance(o_.negation_rate);
    const int word_polarity = negated ? -polarity : polarity;
    const bool plural = rng_.chance(0.25);
    const std::string& aspect = pick(plural ? kPluralAspects : kAspects);
    const bool present = rng_.chance(0.3);
    const std::string be = present ? (plural ? "are" : "is") : (plural ? "were" : "was");
    Words out;
    switch (rng_.below(6)) {
      case 0:  // the plot was (not) very dull
        put(out, {"the", aspect, be});
        if (negated) {
          const uint64_t form = rng_.below(3);
          put(out, form == 0 ? "not" : form == 1 ? "never" : "hardly");
          if (form == 0) maybe_intensifier(out);
        } else {
          maybe_intensifier(out);
        }
        put_word(out, adjective(word_polarity));
        break;
      case 1:  // (not) really good acting
        if (negated) put(out, "not");
        maybe_intensifier(out);
        put(out, {adjective(word_polarity), aspect});
        break;
      case 2: {  // (not) a dull , endless movie
        if (negated) put(out, "not");
        Words rest;
        maybe_intensifier(rest);
        rest.push_back(adjective(word_polarity));
        if (!negated && rng_.chance(0.3)) {
          const std::string& second = adjective(word_polarity);
          if (second != rest.back()) put(rest, {",", second});
        }
        put(out, starts_with_vowel(rest.front()) ? "an" : "a");
        put(out, rest);
        put(out, rng_.chance(0.5) ? "film" : "movie");
        break;
      }
      case 3:  // i (really / never / hardly) loved the score
        put(out, "i");
        if (negated)
          put(out, rng_.chance(0.7) ? "never" : "hardly");
        else if (rng_.chance(0.3))
          put(out, "really");
        put(out, {pick(word_polarity > 0 ? kPositiveVerbs : kNegativeVerbs), "the", aspect});
        break;
      case 4: {  // the pacing (never) felt slow
        put(out, {"the", aspect});
        const std::string verb = rng_.chance(0.5) ? "felt" : "seemed";
        if (negated) {
          const uint64_t form = rng_.below(3);
          if (form == 0) put(out, {"never", verb});
          if (form == 1) put(out, {"hardly", verb});
          if (form == 2) put(out, {"did", "not", verb == "felt" ? "feel" : "seem"});
        } else {
          put_word(out, verb);
          maybe_intensifier(out);
        }
        put_word(out, adjective(word_polarity));
        break;
      }
      default:  // it was (not) good (at all)
        put(out, {"it", present ? "is" : "was"});
        if (negated) {
          if (rng_.chance(0.5)) {
            put(out, {"not", adjective(word_polarity), "at", "all"});
          } else {
            put(out, {"never", adjective(word_polarity)});
          }
        } else {
          maybe_intensifier(out);
          put_word(out, adjective(word_polarity));
        }
        break;
    }
    return out;
  }

  Words opinion(int polarity) {
    Words out;
    const double r = rng_.uniform();
    if (r < o_.contrast_rate) {
      // The later clause decides; the earlier one says the opposite.
      switch (rng_.below(5)) {
        case 0: put(out, clause(-polarity)); put(out, "but"); break;
        case 1: put(out, clause(-polarity)); put(out, {",", "but"}); break;
        case 2: put(out, clause(-polarity)); put(out, {",", "yet"}); break;
        case 3: put(out, clause(-polarity)); put(out, {".", "however", ","}); break;
        default: put(out, "although"); put(out, clause(-polarity)); put(out, ","); break;
      }
      put(out, clause(polarity));
    } else {
      if (rng_.chance(0.15)) put(out, kOpeners[rng_.below(kOpeners.size())]);
      put(out, clause(polarity));
      if (r < o_.contrast_rate + (1.0 - o_.contrast_rate) * 0.2) {
        put(out, "and");
        put(out, clause(polarity));
      }
    }
    put(out, ".");
    return out;
  }

  Words place() { return kPlaces[rng_.below(kPlaces.size())]; }
  Words person() {
    const std::string& who = pick(kPeople);
    if (rng_.chance(0.5)) {
      const std::string& trait = pick(kPeopleTraits);
      return {starts_with_vowel(trait) ? "an" : "a", trait, who};
    }
    return {starts_with_vowel(who) ? "an" : "a", who};
  }

  Words noise() {
    Words out;
    switch (rng_.below(13)) {
      case 0:
        put(out, {"the", "story", "follows"});
        put(out, person());
        put(out, {"who", pick(kPlotVerbs), "to"});
        put(out, place());
        break;
      case 1: put(out, {"i", "watched", "it", "with", "my", pick(kRelatives), "on", "a", pick(kDays)}); break;
      case 2: put(out, {"it", "runs", "about", std::to_string(80 + rng_.below(71)), "minutes"}); break;
      case 3: put(out, {"the", "film", "was", "released", "in", std::to_string(1960 + rng_.below(61))}); break;
      case 4:
        put(out, {pick(kNames), "plays"});
        put(out, person());
        put(out, "from");
        put(out, place());
        break;
      case 5: put(out, {"the", pick(kPeople), "is", "played", "by", pick(kNames)}); break;
      case 6:
        put(out, {"most", "of", "the", "film", "takes", "place", "in"});
        put(out, place());
        break;
      case 7:
        put(out, {"the", "movie", "is", "based", "on", "a"});
        put(out, kSources[rng_.below(kSources.size())]);
        put(out, {"by", pick(kNames)});
        break;
      case 8: put(out, {"i", "saw", "it", "at", "the", "cinema", "last", pick(kPeriods)}); break;
      case 9:
        put(out, {"there", "is", "a", "scene", "where", "the", pick(kPeople), pick(kPlotVerbs), "to"});
        put(out, place());
        break;
      case 10:
        put(out, {"the", pick(kPeople), "and", "the", pick(kPeople), "meet", "in"});
        put(out, place());
        break;
      case 11:
        put(out, {"it", "was", "shot", "in"});
        put(out, place());
        put(out, {"in", std::to_string(1960 + rng_.below(61))});
        break;
      default:
        put(out, {"the", "director", "also", "made", "a", "film", "about"});
        put(out, person());
        break;
    }
    put(out, ".");
    return out;
  }
};

}  // namespace

TextDataset synthetic_reviews(const SyntheticReviewOptions& o) {
  LOOM_CHECK(o.num_examples >= 0, "synthetic_reviews: num_examples must be >= 0, got {}",
             o.num_examples);
  LOOM_CHECK(o.min_length >= 1 && o.max_length >= 24 && o.min_length <= o.max_length - 20,
             "synthetic_reviews: need 1 <= min_length <= max_length - 20 and max_length >= 24, "
             "got min_length {} and max_length {}",
             o.min_length, o.max_length);
  LOOM_CHECK(o.negation_rate >= 0 && o.negation_rate <= 1 && o.contrast_rate >= 0 &&
                 o.contrast_rate <= 1,
             "synthetic_reviews: negation_rate and contrast_rate must be in [0, 1], got {} and {}",
             o.negation_rate, o.contrast_rate);
  TextDataset data;
  data.texts.reserve(static_cast<size_t>(o.num_examples));
  data.labels.reserve(static_cast<size_t>(o.num_examples));
  for (int64_t i = 0; i < o.num_examples; ++i) {
    // Pairs of examples share one coin: exactly balanced labels in any prefix
    // of even length.
    TextRng pair_rng = TextRng::stream(o.seed ^ 0x5bd1e995ULL, static_cast<uint64_t>(i / 2));
    const int32_t first = static_cast<int32_t>(pair_rng.below(2));
    const int32_t label = (i % 2 == 0) ? first : 1 - first;
    TextRng rng = TextRng::stream(o.seed, static_cast<uint64_t>(i));
    ReviewWriter writer(rng, o);
    Words words = writer.review(label == 1 ? 1 : -1);
    std::string text;
    for (const auto& w : words) {
      if (!text.empty()) text += ' ';
      text += w;
    }
    data.push_back(std::move(text), label);
  }
  return data;
}

}  // namespace loom::text
