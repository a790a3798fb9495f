// A built-in synthetic movie-review corpus: the default data of the sentiment
// example, so Loom trains a classifier with no download, and a corpus whose
// labels depend on word order, so a sequence model (LSTM) clearly beats a
// bag-of-words model on it.
//
//   auto data = loom::text::synthetic_reviews({.num_examples = 20000, .seed = 1});
//
// Language (lower case, punctuation as separate tokens, like SST-2):
//
//   review    := sentence+                      (sentences in random order)
//   sentence  := opinion | noise
//   opinion   := [opener] clause(s) "."                              plain
//              | [opener] clause(s) "and" clause(s) "."              agreeing pair
//              | clause(-s) ["," ] "but" clause(s) "."               contrast
//              | clause(-s) "," "yet" clause(s) "."
//              | clause(-s) "." "however" "," clause(s) "."
//              | "although" clause(-s) "," clause(s) "."
//   clause(p) := a sentiment clause whose meaning has polarity p, built from
//                one of these shapes (ADJ/VERB of polarity q, INT optional):
//                  "the" ASPECT was|is [INT] ADJ        "the plot was very dull"
//                  [INT] ADJ ASPECT                     "really good acting"
//                  a|an [INT] ADJ ["," ADJ] film|movie  "a dull , endless movie"
//                  "i" [really] VERB "the" ASPECT       "i loved the soundtrack"
//                  "the" ASPECT felt|seemed [INT] ADJ
//                  "it" was|is [INT] ADJ
//                and, with probability negation_rate, a negated form of the
//                same shape ("the plot was not dull", "not a good film",
//                "i never enjoyed the score", "the pacing hardly felt tedious",
//                "it was not good at all") whose word has polarity q = -p.
//   noise     := plot summary and viewing circumstances with no sentiment
//                word and no negator ("the story follows a young doctor who
//                moves to lisbon .", "it runs about 95 minutes .").
//   opener    := "honestly ," | "overall ," | "in my opinion ," | ...
//   INT       := very | really | truly | extremely | incredibly | ...
//
// Label rule: every opinion sentence states the review's label in its last
// clause; the first clause of a contrast sentence states the opposite. So the
// label is the polarity of the last sentiment word of the review (an
// adjective or a verb such as "loved" / "hated"), flipped when a negator
// ("not", "never", "hardly") precedes it in its clause. There is no label
// noise: an order-aware reader is right on every review.
//
// Why a bag of words stays well below: negation makes each sentiment word
// point the wrong way in negation_rate of its uses, and each contrast
// sentence adds a clause of the opposite polarity, so word counts only
// weakly decide the label, while the order-dependent rule is easy for an
// RNN. Measured in tests/layers/text/synthetic_test.cpp (8,000 training and 4,000
// test reviews, default options): logistic regression on word counts reaches
// 0.74 test accuracy (0.75 on its own training set, so more data would not
// help), on unigram + bigram counts 0.85, and the label rule 1.0. While
// designing the corpus, a PyTorch reference (20,000 training reviews, seed 1;
// 5,000 test reviews, seed 2; maxlen 200, pre-padding, Embedding 32, batch
// 128, Adam 3e-3) gave: LSTM(32) 0.97 test accuracy after 3 epochs and 0.99
// after 4; Embedding -> masked average -> Dense 0.73 after 8 epochs.
//
// Lengths: each review has between min_length and max_length tokens (at least
// min_length words not counting punctuation tokens; at most max_length
// whitespace-separated tokens counting them). A target length is drawn as
// min + (max - min) * u^2 (u uniform): many short and mid-length reviews and
// a tail of long ones (about 20% under 20 tokens, 15% over 150). Longer
// reviews hold more opinion sentences (1 to 4) and more noise.
//
// Labels are balanced exactly: examples 2k and 2k+1 have opposite labels (in a
// random order). The data are a pure function of the options: example i does
// not depend on num_examples, and every platform gives the same text.
#pragma once

#include <cstdint>

#include "loom/layers/text/datasets.h"

namespace loom::text {

struct SyntheticReviewOptions {
  int64_t num_examples = 20000;
  uint64_t seed = 0;
  int64_t min_length = 5;
  int64_t max_length = 200;
  // The defaults put a bag-of-words model at about 0.74 accuracy; raising
  // either rate lowers that ceiling (0.3 and 0.3: about 0.68).
  double negation_rate = 0.25;  // share of sentiment clauses in negated form
  double contrast_rate = 0.25;  // share of opinion sentences that are contrasts
};

TextDataset synthetic_reviews(const SyntheticReviewOptions& options = {});

}  // namespace loom::text
