// ingress/users_file.h — the accounts a listener's AUTH accepts: a file of
// "user:hash" lines, the hash made by crypt(3) (yescrypt "$y$", SHA-512
// "$6$", bcrypt "$2b$", ...; `ringmail hash-password` makes a yescrypt one).
//
// Who uses it: the engine loads one per [[listen]] with auth at start-up
// (main thread); every worker's ingress connections call verify().
// The file: '#' comments and blank lines are skipped; a user name is 1..255
// bytes without ':', spaces or control characters; each user once; the
// hash must be one libxcrypt knows and still enables (DES, MD5 and other
// legacy methods are refused: rehash with `ringmail hash-password`).
// Refused whole, with a sentence naming the path (and the line), when it is
// group- or world-readable ("chmod 600 FILE", config/password_file.h does
// that check), not a regular file, over kMaxUsersFileBytes or has a bad
// line. Passwords and hashes never appear in a sentence.
// Cost: a hash check costs what its method costs (yescrypt's default about
// 20-50 ms and 16 MiB); an unknown user costs the same (checked against a
// stand-in made with the file's first hash), so timing does not tell which
// users exist. A successful (user, password) pair is remembered as an
// HMAC-SHA256 under a random key made at load (never the password), so a
// client that authenticates on every connection pays for crypt once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace ringmail::ingress {

inline constexpr size_t kMaxUsersFileBytes = 1 << 20;

// make_password_hash hashes |password| with yescrypt at libxcrypt's default
// cost and a fresh random salt ("$y$j9T$..."), as `ringmail hash-password`
// prints it. False with a sentence in |error| (empty password, a NUL or a
// newline in it, libcrypt failure).
bool make_password_hash(std::string_view password, std::string& hash, std::string& error);

class UsersFile {
 public:
  // kCacheEntries bounds the remembered pairs; when full it starts afresh.
  static constexpr size_t kCacheEntries = 4096;

  // load reads the file at |path|; nullptr and a sentence in |error| on
  // any problem.
  static std::unique_ptr<UsersFile> load(const std::string& path, std::string& error);

  // verify: |user| exists and |password| is its password. Thread-safe.
  bool verify(std::string_view user, std::string_view password) const;

  size_t users() const { return hashes_.size(); }
  // crypt_calls counts hash computations (cache misses), for tests and metrics.
  uint64_t crypt_calls() const { return crypt_calls_.load(std::memory_order_relaxed); }

 private:
  UsersFile() = default;

  // Digest is the keyed HMAC-SHA256 of (user, password), the cache key.
  std::string Digest(std::string_view user, std::string_view password) const;
  // CryptMatches: crypt_rn(password, hash) equals hash (constant time).
  bool CryptMatches(std::string_view password, const std::string& hash) const;

  std::unordered_map<std::string, std::string> hashes_;  // user -> crypt hash
  std::string stand_in_;                                 // the hash unknown users are checked against
  uint8_t cache_key_[32] = {};
  mutable std::mutex cache_mutex_;
  mutable std::unordered_set<std::string> cache_;  // Digest()s of pairs that verified
  mutable std::atomic<uint64_t> crypt_calls_{0};
};

}  // namespace ringmail::ingress
