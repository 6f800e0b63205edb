// queue/write_all.h — write_all(): one blocking write of a whole buffer,
// retrying EINTR and short writes, for the spool and log writers that run
// off the workers (the commit thread, the logger thread, `ringmail inject`).
#pragma once

#include <cstddef>

namespace ringmail {

// write_all writes data[0..size) to |fd|. Returns 0, or the errno of the
// write that failed (EIO for a write that wrote nothing, so it never spins).
int write_all(int fd, const void* data, size_t size);

}  // namespace ringmail
