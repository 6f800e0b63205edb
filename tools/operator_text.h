// tools/operator_text.h — renders untrusted bytes (command-line arguments,
// config values, message content) for an operator-facing error sentence.
//
// Callers: the spool front ends (tools/cmd_inject.cc). A sentence on stderr
// must stay one line and must not drive the terminal, so control bytes are
// escaped; and a 10 KB argument must not bury the sentence, so long input is
// shortened with its size. Pure functions; no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringmail {

// kOperatorTextMaxChars is how many characters of escaped input a sentence
// shows before it cuts.
constexpr size_t kOperatorTextMaxChars = 100;

// escape_for_operator returns |text| with CR, LF and TAB as \r, \n, \t, a
// backslash as \\, and every other byte outside printable ASCII (0x00-0x1f,
// 0x7f-0xff) as \xNN. When the escaped form is longer than |max_chars| it
// is cut (never inside an escape) and "…(N bytes)" is appended, N being the
// size of |text|. Example: "a\r\nb" -> "a\\r\\nb".
std::string escape_for_operator(std::string_view text, size_t max_chars = kOperatorTextMaxChars);

}  // namespace ringmail
