// tests/fuzz/fuzz_check.h — the one invariant check every fuzz target uses:
// a broken invariant prints what broke and aborts, which libFuzzer reports
// as a crash and saves the input for.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace ringmail_fuzz {

inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace ringmail_fuzz
