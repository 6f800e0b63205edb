// ingress/users_file.cc — see users_file.h.
#include "ingress/users_file.h"

#include <crypt.h>
#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstring>

#include "config/password_file.h"

namespace ringmail::ingress {
namespace {

constexpr size_t kMaxUserBytes = 255;

// UserProblem: "" when |user| is a usable name, else why not.
std::string UserProblem(std::string_view user) {
  if (user.empty()) return "the user name before ':' is empty";
  if (user.size() > kMaxUserBytes) return "the user name is longer than 255 bytes";
  for (unsigned char c : user) {
    if (c <= ' ' || c == 0x7f) return "the user name contains a space or a control character";
  }
  return {};
}

// HashProblem: "" when libxcrypt accepts |hash| as a current method.
std::string HashProblem(const std::string& hash) {
  switch (crypt_checksalt(hash.c_str())) {
    case CRYPT_SALT_OK:
    case CRYPT_SALT_TOO_CHEAP:
      return {};
    case CRYPT_SALT_METHOD_LEGACY:
      return "the hash uses a legacy method (DES, MD5 or similar) that is too weak; make a new one with "
             "`ringmail hash-password`";
    case CRYPT_SALT_METHOD_DISABLED:
      return "the hash uses a method this system's libcrypt has disabled; make a new one with "
             "`ringmail hash-password`";
    default:
      return "the text after ':' is not a crypt(3) hash such as \"$y$...\" (yescrypt) or \"$6$...\" "
             "(SHA-512); make one with `ringmail hash-password`";
  }
}

}  // namespace

bool make_password_hash(std::string_view password, std::string& hash, std::string& error) {
  if (password.empty()) {
    error = "the password is empty";
    return false;
  }
  if (password.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) {
    error = "the password contains a NUL, CR or LF, which AUTH cannot carry";
    return false;
  }
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  // count 0 = the method's default cost; nullptr entropy = libcrypt reads the kernel's random source.
  if (crypt_gensalt_rn("$y$", 0, nullptr, 0, setting, sizeof(setting)) == nullptr) {
    error = std::string("libcrypt cannot make a yescrypt salt: ") + std::strerror(errno);
    return false;
  }
  const std::string phrase(password);
  auto data = std::make_unique<crypt_data>();
  const char* result = crypt_rn(phrase.c_str(), setting, data.get(), sizeof(crypt_data));
  if (result == nullptr || result[0] == '*') {
    error = std::string("libcrypt cannot hash with yescrypt: ") + std::strerror(errno);
    OPENSSL_cleanse(data.get(), sizeof(crypt_data));
    return false;
  }
  hash = result;
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return true;
}

std::unique_ptr<UsersFile> UsersFile::load(const std::string& path, std::string& error) {
  static constexpr PrivateFile kFile = {"listen.users_file", "user:hash lines (hashes from `ringmail hash-password`)",
                                        "password hashes", kMaxUsersFileBytes};
  std::string text;
  if (!read_private_file(kFile, path, text, error)) return nullptr;
  std::unique_ptr<UsersFile> file(new UsersFile());
  size_t line_number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    const std::string where = "listen.users_file " + path + ":" + std::to_string(line_number) + ": ";
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      error = where + "a line must be user:hash (no ':' found)";
      return nullptr;
    }
    const std::string_view user = line.substr(0, colon);
    const std::string hash(line.substr(colon + 1));
    std::string problem = UserProblem(user);
    if (problem.empty()) problem = HashProblem(hash);
    if (!problem.empty()) {
      error = where + problem;
      return nullptr;
    }
    if (!file->hashes_.emplace(std::string(user), hash).second) {
      error = where + "user '" + std::string(user) + "' is listed twice; keep one line per user";
      return nullptr;
    }
    if (file->stand_in_.empty()) file->stand_in_ = hash;
  }
  RAND_bytes(file->cache_key_, sizeof(file->cache_key_));
  return file;
}

std::string UsersFile::Digest(std::string_view user, std::string_view password) const {
  // The user name's length goes first so that ("ab", "c") and ("a", "bc") differ.
  uint8_t out[EVP_MAX_MD_SIZE];
  unsigned out_size = 0;
  HMAC_CTX ctx;
  HMAC_CTX_init(&ctx);
  const uint32_t user_size = static_cast<uint32_t>(user.size());
  HMAC_Init_ex(&ctx, cache_key_, sizeof(cache_key_), EVP_sha256(), nullptr);
  HMAC_Update(&ctx, reinterpret_cast<const uint8_t*>(&user_size), sizeof(user_size));
  HMAC_Update(&ctx, reinterpret_cast<const uint8_t*>(user.data()), user.size());
  HMAC_Update(&ctx, reinterpret_cast<const uint8_t*>(password.data()), password.size());
  HMAC_Final(&ctx, out, &out_size);
  HMAC_CTX_cleanup(&ctx);
  return std::string(reinterpret_cast<const char*>(out), out_size);
}

bool UsersFile::CryptMatches(std::string_view password, const std::string& hash) const {
  crypt_calls_.fetch_add(1, std::memory_order_relaxed);
  // crypt_rn wants a NUL-terminated phrase; a password with a NUL in it
  // (AUTH PLAIN can carry one) never matches.
  if (password.find('\0') != std::string_view::npos) return false;
  const std::string phrase(password);
  auto data = std::make_unique<crypt_data>();  // 32 KiB: not on a worker's stack
  const char* result = crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  bool match = result != nullptr && result[0] != '*' && std::strlen(result) == hash.size() &&
               CRYPTO_memcmp(result, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return match;
}

bool UsersFile::verify(std::string_view user, std::string_view password) const {
  const std::string digest = Digest(user, password);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.count(digest) != 0) return true;
  }
  const auto it = hashes_.find(std::string(user));
  if (it == hashes_.end()) {
    // Same work as for a real user, then no.
    if (!stand_in_.empty()) CryptMatches(password, stand_in_);
    return false;
  }
  if (!CryptMatches(password, it->second)) return false;
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() >= kCacheEntries) cache_.clear();
  cache_.insert(digest);
  return true;
}

}  // namespace ringmail::ingress
