// engine/body_encoder.cc — CRLF canonicalisation and dot-stuffing for DATA
// (see body_encoder.h).
//
// Hot path: every body byte passes through here. Runs of ordinary bytes are
// found with memchr and copied with memcpy; a well-formed "text\r\n" line is
// one memchr for '\n', one for '\r' and one memcpy. Never reads past
// in[in_size) nor writes past out[out_cap); never allocates.
#include "engine/body_encoder.h"

#include <cstdlib>
#include <cstring>

#include "queue/line_end.h"

namespace ringmail {

void BodyEncoder::encode(const char* in, size_t in_size, char* out, size_t out_cap, size_t& in_used,
                         size_t& out_used) {
  size_t i = 0;  // input position
  size_t o = 0;  // output position
  if (owed_ != 0) {
    // The last call wrote the first half of in[0]'s expansion; its effect on
    // the state is already applied. Write the second half, consume the byte.
    if (in_size == 0 || out_cap == 0) {
      in_used = 0;
      out_used = 0;
      return;
    }
    out[o++] = owed_;
    owed_ = 0;
    i = 1;
  }
  while (i < in_size) {
    const char c = in[i];
    if (skip_lf_) {
      // The previous '\r' was already written as "\r\n": swallow its '\n'.
      skip_lf_ = false;
      if (c == '\n') {
        ++i;
        continue;
      }
    }
    if (is_line_end_byte(c)) {
      if (o == out_cap) break;
      at_line_start_ = true;
      skip_lf_ = (c == '\r');
      out[o++] = '\r';
      if (o == out_cap) {
        owed_ = '\n';  // in[i] stays unconsumed until its '\n' is written
        break;
      }
      out[o++] = '\n';
      ++i;
      continue;
    }
    if (at_line_start_ && c == '.' && dot_stuffing_) {
      if (o == out_cap) break;
      at_line_start_ = false;
      out[o++] = '.';
      if (o == out_cap) {
        owed_ = '.';
        break;
      }
      out[o++] = '.';
      ++i;
      continue;
    }
    // A run of ordinary bytes, bounded by both the input and the output room.
    const size_t in_left = in_size - i;
    const size_t out_left = out_cap - o;
    const size_t window = in_left < out_left ? in_left : out_left;
    if (window == 0) break;
    const char* run = in + i;
    const char* lf = static_cast<const char*>(std::memchr(run, '\n', window));
    const size_t until_lf = lf != nullptr ? static_cast<size_t>(lf - run) : window;
    const char* cr = static_cast<const char*>(std::memchr(run, '\r', until_lf));
    size_t n;
    if (cr != nullptr && cr + 1 == lf) {
      // The common case: the line ends in CRLF with no bare CR before it.
      // Copy it whole; lf lies inside the window, so it fits.
      n = until_lf + 1;
      at_line_start_ = true;
    } else {
      n = cr != nullptr ? static_cast<size_t>(cr - run) : until_lf;
      at_line_start_ = false;  // n >= 1: run[0] is neither CR nor LF
    }
    std::memcpy(out + o, run, n);
    i += n;
    o += n;
  }
  in_used = i;
  out_used = o;
}

size_t BodyEncoder::finish(char* out, size_t out_cap) {
  // Caller bug, not an operating error: the output could not be completed.
  if (out_cap < kMaxFinishBytes) std::abort();
  // So is finishing with input not yet consumed (half of a byte written).
  if (owed_ != 0) std::abort();
  size_t o = 0;
  if (!at_line_start_) {
    out[o++] = '\r';
    out[o++] = '\n';
  }
  out[o++] = '.';
  out[o++] = '\r';
  out[o++] = '\n';
  reset();
  return o;
}

size_t BodyEncoder::finish_chunk(char* out, size_t out_cap) {
  if (out_cap < 2 || owed_ != 0) std::abort();  // caller bugs, as in finish()
  size_t o = 0;
  if (!at_line_start_) {
    out[o++] = '\r';
    out[o++] = '\n';
  }
  reset();
  return o;
}

}  // namespace ringmail
