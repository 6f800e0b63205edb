// queue/spool_entry.cc — see spool_entry.h.
#include "queue/spool_entry.h"

namespace ringmail {

const char* spool_entry_refusal(const struct stat& st) {
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      // A second name for a file someone else wrote would deliver that
      // file's content (a mode-600 file that looks like mail, for one).
      if (st.st_nlink != 1) return "hard link refused: a producer must write the file itself";
      return nullptr;
    case S_IFLNK:
      return "symbolic link refused";
    case S_IFIFO:
      return "not a regular file (FIFO)";
    case S_IFDIR:
      return "not a regular file (directory)";
    case S_IFSOCK:
      return "not a regular file (socket)";
    case S_IFCHR:
    case S_IFBLK:
      return "not a regular file (device)";
    default:
      return "not a regular file";
  }
}

}  // namespace ringmail
