// config/password_file.h — reads the relay password from relay.password_file,
// and any other secret file only ringmail may read (read_private_file: the
// [[listen]] users_file, ingress/users_file.h).
//
// Who calls it: engine/destination.cc (build_relay_destination), once at
// start-up on the main thread, before any worker exists; never a worker,
// and never load_config (every subcommand loads the config, and `ringmail
// inject` runs as producers' users, who must not need the password).
// What it refuses: a file group or others may read (the sentence says
// `chmod 600 FILE`), anything that is not a regular file, a file over
// kMaxPasswordFileBytes. Diagnostics are sentences naming the key and the
// path; the password itself never appears in one.
#pragma once

#include <cstddef>
#include <string>

namespace ringmail {

// kMaxPasswordFileBytes bounds what is read: a password is a line.
inline constexpr size_t kMaxPasswordFileBytes = 4096;

// read_password_file reads the file at |path| into |password|, with one
// trailing newline ("\n" or "\r\n") removed and nothing else changed.
// False with a sentence in |error| when the file is missing, unreadable,
// not a regular file, readable by group or others, or too large.
bool read_password_file(const std::string& path, std::string& password, std::string& error);

// PrivateFile says, for the sentences of read_private_file, which setting
// names the file and what it holds.
struct PrivateFile {
  const char* key;     // "relay.password_file"
  const char* holds;   // "the relay password on one line"
  const char* secret;  // "a password" (refusing to use SECRET others can read)
  size_t max_bytes;    // larger files are refused
};

// read_private_file reads the whole file at |path| into |text|, with the
// checks (and sentences) of read_password_file: missing, unreadable, not a
// regular file, readable by group or others ("chmod 600 PATH"), too large.
bool read_private_file(const PrivateFile& file, const std::string& path, std::string& text,
                       std::string& error);

}  // namespace ringmail
