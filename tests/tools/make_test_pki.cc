// tests/tools/make_test_pki.cc — writes a fresh test PKI (tests/support/
// test_pki.h) as PEM files into a directory, for e2e tests that run TLS
// servers nobody here wrote (Python's ssl module, Postfix).
//
// Usage: make_test_pki DIR [p256|rsa2048]
// Test-only: the keys are throw-away and written with the umask's mode.
#include <cstdio>
#include <cstring>
#include <string>

#include "tests/support/test_pki.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: make_test_pki DIR [p256|rsa2048]\n");
    return 64;
  }
  auto kind = ringmail::test::KeyKind::kEcdsaP256;
  if (argc == 3 && std::strcmp(argv[2], "rsa2048") == 0) {
    kind = ringmail::test::KeyKind::kRsa2048;
  } else if (argc == 3 && std::strcmp(argv[2], "p256") != 0) {
    std::fprintf(stderr, "make_test_pki: key kind must be p256 or rsa2048\n");
    return 64;
  }
  std::string error;
  if (!ringmail::test::make_test_pki(kind).write_files(argv[1], error)) {
    std::fprintf(stderr, "make_test_pki: %s\n", error.c_str());
    return 74;
  }
  return 0;
}
