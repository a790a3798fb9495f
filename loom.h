// Loom's public API in one include.
#pragma once

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "autograd/tape.h"
#include "autograd/tensor.h"
#include "backends/registry.h"
