// tls/tls_trust_store.cc — see tls_trust_store.h.
#include "tls/tls_trust_store.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

namespace ringmail {

namespace {

// add_pem_file adds the certificates of |path|; returns the count, or -1
// with |error| set when the file cannot be read.
long add_pem_file(X509_STORE* store, const std::string& path, std::string& error) {
  bssl::UniquePtr<BIO> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    int saved = errno;
    ERR_clear_error();
    error = fmt::format("cannot read {}: {}", path, std::strerror(saved));
    return -1;
  }
  long count = 0;
  for (;;) {
    bssl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    // A certificate already in the store (the system store lists each CA
    // under several names) is not an error.
    X509_STORE_add_cert(store, cert.get());
    count++;
  }
  ERR_clear_error();
  return count;
}

}  // namespace

std::string trust_store_text(std::string_view ca_file, std::string_view ca_dir) {
  if (!ca_file.empty() && !ca_dir.empty()) return fmt::format("ca_file {} and ca_dir {}", ca_file, ca_dir);
  if (!ca_file.empty()) return fmt::format("ca_file {}", ca_file);
  if (!ca_dir.empty()) return fmt::format("ca_dir {}", ca_dir);
  return "an empty trust store";
}

bool load_trust_store(X509_STORE* store, std::string_view ca_file, std::string_view ca_dir,
                      size_t& certs_added, std::string& error) {
  certs_added = 0;
  // Every certificate the operator put in the store is a trust anchor, even
  // one that is not a root: a leaf or intermediate saved with
  // `check-tls --save-chain` then works without the root the server never
  // sends (pinning).
  X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
  if (!ca_file.empty()) {
    std::string path(ca_file);
    std::string why;
    long n = add_pem_file(store, path, why);
    if (n < 0) {
      error =
          fmt::format("tls.ca_file: {}; give the path of a PEM file with the CA certificates to trust", why);
      return false;
    }
    if (n == 0) {
      error = fmt::format(
          "tls.ca_file {} holds no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" block); give a PEM "
          "file, "
          "e.g. one written by `ringmail check-tls HOST --save-chain DIR`",
          path);
      return false;
    }
    certs_added += static_cast<size_t>(n);
  }
  if (!ca_dir.empty()) {
    std::error_code ec;
    std::filesystem::directory_iterator it(std::string(ca_dir), ec);
    if (ec) {
      error = fmt::format(
          "tls.ca_dir {}: cannot list the directory ({}); give a directory of PEM CA certificates, or \"\" "
          "to use "
          "only tls.ca_file",
          ca_dir, ec.message());
      return false;
    }
    // Sorted, so that loading is deterministic.
    std::vector<std::string> files;
    for (const auto& entry : it) {
      if (entry.is_regular_file(ec)) files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    size_t from_dir = 0;
    for (const auto& file : files) {
      std::string why;
      long n = add_pem_file(store, file, why);
      if (n > 0) from_dir += static_cast<size_t>(n);
    }
    if (from_dir == 0) {
      error = fmt::format(
          "tls.ca_dir {} holds no PEM certificate; put the CA certificates there (e.g. with `ringmail "
          "check-tls "
          "HOST --save-chain {}`), or install ca-certificates for the system store /etc/ssl/certs",
          ca_dir, ca_dir);
      return false;
    }
    certs_added += from_dir;
  }
  return true;
}

}  // namespace ringmail
