// The file backend's handle: what this process's open found in the file (docs/persistence.md),
// reached as segment.handle<shmkit::FileSession>(); nullptr on segments of other backends.
#pragma once

#include <cstdint>

#include "shmkit/backend_handle.hpp"

namespace shmkit {

class FileSession : public BackendHandle {
 public:
  // False: when this process opened the file, a process that had it open earlier had ended
  // without closing it (killed, crashed, power lost): data may be half-updated.
  virtual bool opened_clean() const noexcept = 0;
  // This open found the file last used on another boot: sync objects the application keeps in
  // the file may hold lock words from the old boot: re-construct them.
  virtual bool opened_after_reboot() const noexcept = 0;
  // True for a peek (SegmentView): this process took no part in the session and changed nothing.
  virtual bool peek() const noexcept = 0;
};

}  // namespace shmkit
