// Compiled by the `layering` ctests with one folder target's include path
// (build/include/<target>/): the include named by LOOM_LAYERING_HEADER must
// fail to resolve when it reaches above that folder, and resolve when it
// does not (the control), so an upward #include cannot compile.
#include LOOM_LAYERING_HEADER

int main() { return 0; }
