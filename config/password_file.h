// config/password_file.h — reads the relay password from relay.password_file.
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

}  // namespace ringmail
